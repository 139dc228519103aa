"""``GET /metrics``: Prometheus text format, summed over every worker in multiprocess mode.

Admin credentials (HTTP Basic, as ``/api/admin``) over HTTPS only, unless ``metrics.public`` is true:
then both listeners answer it without credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from starlette.responses import Response

from app.admin.deps import ServicesDep, admin_user
from app.admin.errors import AdminError
from app.metrics.instruments import REGISTRY, publish_rpc_observations
from app.metrics.multiproc import multiproc_dir
from app.metrics.scrape import DatabaseGaugeCollector, DatabaseGauges, read_database_gauges
from app.transport.listener import transport_of

METRICS_PATH = "/metrics"

logger = logging.getLogger(__name__)


async def metrics_access(request: Request, services: ServicesDep) -> None:
    if services.settings.metrics.public:
        return
    if not transport_of(request.scope).secure:
        raise AdminError(403, "metrics are served over HTTPS only (unless metrics.public is true)")
    await admin_user(request, services)


router = APIRouter(include_in_schema=False, dependencies=[Depends(metrics_access)])


class _InProcess(Collector):
    """This process's instruments, when there is no multiprocess directory (in-process use)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _exposition(extra: Collector) -> bytes:
    registry = CollectorRegistry()
    directory = multiproc_dir()
    if directory is not None:
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_InProcess())
    registry.register(extra)
    return generate_latest(registry)


@router.get(METRICS_PATH)
async def metrics(services: ServicesDep) -> Response:
    publish_rpc_observations()  # this worker's own requests, up to this one
    try:
        gauges: DatabaseGauges | None = await read_database_gauges(services.database)
    except Exception as exc:
        # The counters still tell what happened; the database's gauges are left out of this scrape.
        logger.warning("metrics: database gauges unavailable", extra={"error": type(exc).__name__})
        gauges = None
    return Response(_exposition(DatabaseGaugeCollector(gauges)), media_type=CONTENT_TYPE_LATEST)
