"""Background-task plumbing shared by the periodic loops (sweeper, reconcilers, run-time settings poll).

The loops wake on shared boundaries (``until_aligned``): a loop with a one-second period wakes at whole
seconds of the event loop's clock, the sweeper's quarter-second one at quarter seconds, so the loops of a
process wake together, in one pass of the event loop, rather than each on its own (on a virtual machine each
wake-up of an idle process costs more than the work it does).
"""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has finished; its cancellation is not an error."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def until_aligned(period: float) -> float:
    """Seconds from now to the next multiple of ``period`` on the running loop's clock (at least a tenth of
    ``period``, so a loop that just ran does not run again at once)."""
    now = asyncio.get_running_loop().time()
    delay = period - now % period
    return delay if delay >= period / 10 else delay + period


async def sleep_aligned(period: float) -> None:
    """Sleep until the next multiple of ``period`` (see ``until_aligned``)."""
    await asyncio.sleep(until_aligned(period))


async def sleep_or_wake(wake: asyncio.Event, seconds: float) -> None:
    """Wait until the next multiple of ``seconds`` (a full period at most, see ``until_aligned``), or less
    if ``wake`` is set, then clear it for the next round.

    ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` swallows a cancel that lands as the event
    is set, and a ``stop()`` waiting on the loop would then wait forever.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(until_aligned(seconds)):
            await wake.wait()
    wake.clear()
