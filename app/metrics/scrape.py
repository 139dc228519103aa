"""What ``GET /metrics`` reads at scrape time, from the database every worker shares, plus the collector
that exposes it: live conferences (the state row's count: O(1)) and SIP registrations by state (one
grouped count of the status table)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select

from app.conferences.models import STATE_ROW_ID, ConferenceState
from app.sip.registration import RegistrationState
from app.sip_registration.models import RegistrationRecord
from app.storage.database import Database

REGISTRATION_STATES = tuple(state.value for state in RegistrationState)

_CONFERENCES = select(ConferenceState.conference_count).where(ConferenceState.id == STATE_ROW_ID)
_REGISTRATIONS = select(RegistrationRecord.state, func.count()).group_by(RegistrationRecord.state)


@dataclass(frozen=True, slots=True)
class DatabaseGauges:
    conferences_live: int
    registrations: dict[str, int] = field(default_factory=dict)


def _read(connection: Connection) -> DatabaseGauges:
    conferences = connection.execute(_CONFERENCES).scalar_one_or_none() or 0
    counts = dict.fromkeys(REGISTRATION_STATES, 0)
    for state, count in connection.execute(_REGISTRATIONS).all():
        if state in counts:  # the column only holds these; anything else would be an unbounded label
            counts[state] = int(count)
    return DatabaseGauges(int(conferences), counts)


async def read_database_gauges(database: Database) -> DatabaseGauges:
    return await database.run_core(_read, write=False)


class DatabaseGaugeCollector(Collector):
    """One scrape's database gauges as metric families."""

    def __init__(self, gauges: DatabaseGauges | None) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.gauges is None:  # the database did not answer this scrape
            return
        yield GaugeMetricFamily(
            "adhoc_conferences_live",
            "Conferences that exist now (all workers and instances sharing the database).",
            value=self.gauges.conferences_live,
        )
        registrations = GaugeMetricFamily(
            "adhoc_sip_registrations",
            "Conference aliases by SIP registration state (registering, registered, failed, unregistered).",
            labels=("state",),
        )
        for state, count in self.gauges.registrations.items():
            registrations.add_metric((state,), count)
        yield registrations
