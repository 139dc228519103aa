"""The sweeper each worker runs: ends conferences at their end time and deletes idle ones at cleanup time.

Every worker of every instance sweeps; each due row is claimed inside a write transaction that
re-checks it under the shared writer lock, so exactly one process ends or deletes it. Timers therefore
fire with no request arriving, within about one sweep interval of their due time.
"""

from __future__ import annotations

import asyncio
import logging

from app.conferences.service import ConferenceService
from app.core.tasks import cancel_and_wait

logger = logging.getLogger("adhoc.conferences.timers")

SWEEP_INTERVAL_SECONDS = 0.25
PURGE_EVERY_SWEEPS = 240


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

    async def sweep_once(self, sweep_number: int = 0) -> None:
        await self.service.end_due_conferences()
        await self.service.delete_due_conferences()
        if sweep_number % PURGE_EVERY_SWEEPS == 0:
            await self.service.purge_dead_records()

    async def _run(self) -> None:
        sweep_number = 0
        while True:
            try:
                await self.sweep_once(sweep_number)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("conference sweep failed; retrying next interval")
            sweep_number += 1
            await asyncio.sleep(self.interval)
