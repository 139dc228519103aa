"""The verification gate: one at a time, and a source flooding it cannot make a new source wait its backlog."""

from __future__ import annotations

import asyncio

import pytest

from app.security.fair_queue import FairGate


async def _run(gate: FairGate, source: str, order: list[tuple[str, int]], release: asyncio.Event) -> None:
    async with gate.turn(source) as ahead:
        order.append((source, ahead))
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_new_source_waits_only_for_the_turn_in_progress() -> None:
    gate = FairGate()
    order: list[tuple[str, int]] = []
    release = asyncio.Event()
    release.set()
    hold = asyncio.Event()
    first = asyncio.create_task(_run(gate, "attacker", order, hold))
    await _settle()
    flood = [asyncio.create_task(_run(gate, "attacker", order, release)) for _ in range(20)]
    await _settle()
    cucm = asyncio.create_task(_run(gate, "cucm", order, release))
    await _settle()
    assert gate.waiting == 21
    hold.set()
    await asyncio.gather(first, *flood, cucm)
    sources = [source for source, _ahead in order]
    assert sources[:3] == ["attacker", "cucm", "attacker"]
    assert order[1] == ("cucm", 1)  # only the verification running when it queued went ahead
    assert order[-1][1] == 21  # the attacker's last waited for everything
    assert not gate.busy


async def test_sources_take_turns_round_robin() -> None:
    gate = FairGate()
    order: list[tuple[str, int]] = []
    go = asyncio.Event()
    go.set()
    hold = asyncio.Event()
    first = asyncio.create_task(_run(gate, "x", order, hold))
    await _settle()
    tasks = [asyncio.create_task(_run(gate, source, order, go)) for source in ["a"] * 3 + ["b"] * 3 + ["c"] * 3]
    await _settle()
    hold.set()
    await asyncio.gather(first, *tasks)
    assert [source for source, _ in order] == ["x", "a", "b", "c", "a", "b", "c", "a", "b", "c"]


@pytest.mark.parametrize("when", ["while queued", "as its turn comes"])
async def test_a_cancelled_waiter_never_holds_or_loses_the_turn(when: str) -> None:
    gate = FairGate()
    order: list[tuple[str, int]] = []
    go = asyncio.Event()
    go.set()
    hold = asyncio.Event()
    first = asyncio.create_task(_run(gate, "a", order, hold))
    await _settle()
    quitter = asyncio.create_task(_run(gate, "b", order, go))
    after = asyncio.create_task(_run(gate, "c", order, go))
    await _settle()
    if when == "while queued":
        quitter.cancel()
        hold.set()
    else:
        hold.set()
        await asyncio.sleep(0)  # the turn is handed to "b"'s future; cancel before it runs
        quitter.cancel()
    await asyncio.gather(first, after)
    with pytest.raises(asyncio.CancelledError):
        await quitter
    assert [source for source, _ in order if source != "b"] == ["a", "c"]
    assert not gate.busy
    assert gate.waiting == 0
