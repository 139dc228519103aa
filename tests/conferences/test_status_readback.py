"""Property: conference.status reads back every member conference.create accepted, with its type and value.

MCU API clients set a conference up, read its status and fail on a member that is missing. Members
are drawn from the create struct's own model (every optional member the bridge accepts), so a member
added to the model later is covered without touching this test. A create that faults stores nothing.
"""

from __future__ import annotations

import itertools
import string
import typing
from datetime import datetime
from typing import Any, Literal

from annotated_types import Ge, Le, MaxLen
from hypothesis import HealthCheck, given, settings, strategies as st
from pydantic.fields import FieldInfo

from app.conferences.schemas import CreateConferenceParams
from tests.conductor.conftest import RpcFault, fault, rpc
from tests.support.bridge import Bridge

_serial = itertools.count(1)
DIGITS = {"pin", "guestPin"}
NUMERIC_IDS = ("numericId", "conferenceID")  # conferenceID is numericId's deprecated alias: one of them
UNIQUE_DIGITS = {"guestNumericId", *NUMERIC_IDS}
SKIPPED = {"conferenceName", "startTime", "endTime", "terminationDate"}  # datetimes: read back in whole seconds
REFUSALS = {11, 13, 17, 36, 102, 104}


def _bounds(metadata: list[Any]) -> tuple[int, int, int]:
    low, high, length = 0, 100_000, 31
    for item in metadata:
        for part in getattr(item, "metadata", [item]):
            if isinstance(part, Ge):
                low = int(part.ge)  # type: ignore[call-overload]
            if isinstance(part, Le):
                high = min(high, int(part.le))  # type: ignore[call-overload]
            if isinstance(part, MaxLen):
                length = part.max_length
        length = getattr(item, "max_length", None) or length
    return low, high, length


def _strategy(name: str, field: FieldInfo) -> st.SearchStrategy[Any] | None:
    if name in SKIPPED:
        return None
    if name in DIGITS:
        return st.text(alphabet=string.digits, max_size=8)
    if name in UNIQUE_DIGITS:
        return st.builds(lambda: f"9{next(_serial):07d}")
    if name == "templateName":
        return st.just("default")
    if name == "templateNumber":
        return st.just(0)
    annotation = field.annotation
    options = [arg for arg in typing.get_args(annotation) if arg is not type(None)] or [annotation]
    inner = options[0]
    metadata = list(field.metadata)
    if typing.get_origin(inner) is typing.Annotated:
        inner, *extra = typing.get_args(inner)
        metadata += extra
    if typing.get_origin(inner) is Literal:
        return st.sampled_from(typing.get_args(inner))
    if inner is bool:
        return st.booleans()
    low, high, length = _bounds(metadata)
    if inner is int:
        return st.integers(low, min(high, 10_000))
    if inner is str:
        return st.text(alphabet=string.ascii_letters + string.digits + " -", max_size=length)
    assert inner is not datetime, name
    raise AssertionError(f"no strategy for {name}: {annotation}")


MEMBER_STRATEGIES = {
    name: strategy
    for name, field in CreateConferenceParams.model_fields.items()
    if (strategy := _strategy(name, field)) is not None
}


@st.composite
def create_members(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.sets(st.sampled_from(sorted(MEMBER_STRATEGIES)), max_size=len(MEMBER_STRATEGIES)))
    if set(NUMERIC_IDS) <= chosen:
        chosen.discard(draw(st.sampled_from(NUMERIC_IDS)))
    return {name: draw(MEMBER_STRATEGIES[name]) for name in sorted(chosen)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(members=create_members())
def test_conference_status_returns_every_member_create_accepted(bridge: Bridge, members: dict[str, Any]) -> None:
    name = f"prop-{next(_serial)}"
    refused: RpcFault | None = None
    try:
        rpc(bridge, "conference.create", {"conferenceName": name, **members})
    except RpcFault as error:
        refused = error
    if refused is not None:
        assert refused.code in REFUSALS, (refused.code, refused.text, members)
        assert fault(bridge, "conference.status", {"conferenceName": name})[0] == 4  # nothing stored
        return
    status = rpc(bridge, "conference.status", {"conferenceName": name})
    try:
        for member, sent in members.items():
            assert member in status, f"{member} was accepted but is not in conference.status"
            assert type(status[member]) is type(sent), (member, sent, status[member])
            assert status[member] == sent, (member, sent, status[member])
    finally:
        rpc(bridge, "conference.destroy", {"conferenceName": name})


def test_every_optional_create_member_but_the_datetimes_is_drawn() -> None:
    assert set(CreateConferenceParams.model_fields) - set(MEMBER_STRATEGIES) == SKIPPED
