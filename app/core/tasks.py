"""Background-task plumbing shared by the periodic loops (sweeper, reconcilers, run-time settings poll)."""

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


async def sleep_or_wake(wake: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``wake`` is set, then clear it for the next round.

    ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` swallows a cancel that lands as the event
    is set, and a ``stop()`` waiting on the loop would then wait forever.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
    wake.clear()
