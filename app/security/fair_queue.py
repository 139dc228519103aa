"""One password verification at a time per process, handed out fairly across source addresses.

Waiters queue per source. When the running verification ends, the turn goes first to sources that have
not been served since they started waiting (in arrival order), then round-robin over the others, so a
source flooding the queue delays a new source by at most the verification already running (plus one
per other new source that arrived before it), never by its own backlog.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

logger = logging.getLogger("adhoc.auth")


@dataclass(slots=True)
class _Waiter:
    future: asyncio.Future[None]
    granted_before: int  # turns granted when this waiter queued


class FairGate:
    """``async with gate.turn(source):`` runs the block when it is that source's turn."""

    def __init__(self) -> None:
        self._busy = False
        self._running: str | None = None  # whose turn it is now
        self._granted = 0  # turns handed out so far (a clock for "how many went ahead of me")
        self._fresh: OrderedDict[str, deque[_Waiter]] = OrderedDict()  # not served since they queued
        self._served: OrderedDict[str, deque[_Waiter]] = OrderedDict()  # round-robin, next first

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._fresh.values()) + sum(len(q) for q in self._served.values())

    @asynccontextmanager
    async def turn(self, source: str) -> AsyncIterator[int]:
        """Yields how many verifications ran or started ahead of this one while it waited."""
        ahead = 0
        if not self._busy:
            self._busy, self._running = True, source
            self._granted += 1
        else:
            waiter = _Waiter(asyncio.get_running_loop().create_future(), self._granted)
            # A source whose turn is running now has been served: it queues behind the fresh ones.
            queues = self._served if source in self._served or source == self._running else self._fresh
            queues.setdefault(source, deque()).append(waiter)
            try:
                await waiter.future
            except asyncio.CancelledError:
                if waiter.future.done() and not waiter.future.cancelled():
                    self._release()  # the turn was handed over just as we were cancelled: pass it on
                else:
                    self._forget(source, waiter)
                raise
            # One was running when we queued; every turn granted since, ours included, counts once.
            ahead = self._granted - waiter.granted_before
        try:
            yield ahead
        finally:
            self._release()

    def _forget(self, source: str, waiter: _Waiter) -> None:
        for queues in (self._fresh, self._served):
            queue = queues.get(source)
            if queue is not None and waiter in queue:
                queue.remove(waiter)
                if not queue:
                    del queues[source]

    def _release(self) -> None:
        while self._fresh or self._served:
            queues = self._fresh if self._fresh else self._served
            source, queue = next(iter(queues.items()))
            waiter = queue.popleft()
            del queues[source]
            if queue:
                # Served once: that source's next waiter goes to the back of the rotation.
                self._served.pop(source, None)
                self._served[source] = queue
            if not waiter.future.done():
                self._granted += 1
                self._running = source
                waiter.future.set_result(None)
                return
        self._busy, self._running = False, None
