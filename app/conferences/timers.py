"""The sweeper each worker runs: ends conferences at their end time and deletes idle ones at cleanup time.

Every worker of every instance sweeps; each due row is claimed inside a write transaction that
re-checks it under the shared writer lock, so exactly one process ends or deletes it. A sweep runs at
every whole second (with the process's other periodic loops, see ``app.core.tasks``) and, when a
conference falls due before the next one, at that time: timers fire with no request arriving, at their
due time when it was known a second ahead (every end and cleanup of 1 s or more), else within a second.
"""

from __future__ import annotations

import asyncio
import logging

from app.conferences.service import SWEEP_BATCH, ConferenceService
from app.core.tasks import cancel_and_wait, until_aligned

logger = logging.getLogger("adhoc.conferences.timers")

SWEEP_INTERVAL_SECONDS = 1.0
PURGE_EVERY_SWEEPS = 60


class Sweeper:
    def __init__(self, service: ConferenceService, *, interval: float = SWEEP_INTERVAL_SECONDS) -> None:
        self.service = service
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="conference-sweeper")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def sweep_once(self, sweep_number: int = 0) -> bool:
        """End and delete what is due; True when a full batch was done (more may be due right away)."""
        ended = await self.service.end_due_conferences()
        deleted = await self.service.delete_due_conferences()
        if sweep_number % PURGE_EVERY_SWEEPS == 0:
            await self.service.purge_dead_records()
        return SWEEP_BATCH in (len(ended), len(deleted))

    async def _until_next_sweep(self) -> float:
        """Seconds to the next whole interval, or to the next due time when that comes first."""
        delay = until_aligned(self.interval)
        due = await self.service.next_due_at()
        if due is not None:
            left = (due - self.service.clock()).total_seconds()
            if left > 0:  # one already past (claimed elsewhere, or failed here) waits for the next interval
                delay = min(delay, left)
        return delay

    async def _run(self) -> None:
        sweep_number = 0
        while True:
            delay = None
            try:
                more = await self.sweep_once(sweep_number)
                delay = 0.0 if more else await self._until_next_sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("conference sweep failed; retrying next interval")
            sweep_number += 1
            await asyncio.sleep(until_aligned(self.interval) if delay is None else delay)
