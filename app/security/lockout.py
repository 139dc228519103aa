"""Guessing slowed down: failed authentications counted per source address, shared by every worker.

After ``server.auth_failure_limit`` failures within ``server.auth_failure_period`` seconds a source is
locked for ``server.lockout_window`` seconds; each lockout that follows (without a success, and within
``server.lockout_max_window`` of the previous one's end) doubles the window, up to
``server.lockout_max_window``. While locked, every authentication from that source is refused at once,
before any cache lookup or hash. One success resets the source.

The counts live in a small file-backed shared memory table (``data_dir/auth-lockout.bin``, mmap'd by
every worker): the question "is this source locked?" is asked on every request, CUCM's cached
successes included, so it must cost microseconds (a lock-free read of one slot), which a database query
per request would not; updates (failures only, and the reset after one) take an ``flock`` on the file.
The table outlives restarts, so restarting the service does not forgive a guesser. It has ``SLOTS``
entries; when the slots a source hashes to are full, the unlocked entry with the oldest failures is
reused (a locked one only when all are locked).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import hashlib
import ipaddress
import logging
import math
import mmap
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.config import ServerSettings

logger = logging.getLogger("adhoc.auth")

LOCKOUT_FILE = "auth-lockout.bin"
SLOTS = 4096
PROBES = 8
_MAGIC = b"ADHOCLK1"
_HEADER = struct.Struct("<8sI4x")
# key (16-byte address), period start, locked until, failures in the period, lockouts in a row, flags
_SLOT = struct.Struct("<16sddIII4x")
_ACTIVE = 1  # a lockout whose end has not been logged yet
_EMPTY = bytes(16)
_CLEAR = bytes(_SLOT.size - 16)  # what follows the key in a slot with nothing recorded (a tombstone)
_SIZE = _HEADER.size + SLOTS * _SLOT.size


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    failures: int = 10
    period: float = 60.0
    window: float = 60.0
    max_window: float = 900.0

    @classmethod
    def from_settings(cls, server: ServerSettings) -> LockoutPolicy:
        return cls(
            failures=server.auth_failure_limit,
            period=server.auth_failure_period,
            window=server.lockout_window,
            max_window=server.lockout_max_window,
        )

    def window_for(self, level: int) -> float:
        return float(min(self.window * 2 ** min(level - 1, 32), self.max_window))


@functools.lru_cache(maxsize=4096)
def _key(source: str) -> bytes:
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return hashlib.blake2b(source.encode(), digest_size=16).digest()
    if isinstance(address, ipaddress.IPv4Address):
        return ipaddress.IPv6Address(f"::ffff:{address}").packed
    return address.packed


@functools.lru_cache(maxsize=4096)
def _probe(key: bytes) -> tuple[int, ...]:
    """The offsets of the slots ``key`` may occupy, in probe order."""
    start = zlib.crc32(key) % SLOTS
    return tuple(_HEADER.size + ((start + step) % SLOTS) * _SLOT.size for step in range(PROBES))


def _home(source: str) -> tuple[bytes, tuple[int, ...]]:
    """``source``'s key and its probe offsets (both computed once per source)."""
    key = _key(source)
    return key, _probe(key)


@dataclass(slots=True)
class _Slot:
    key: bytes
    period_start: float
    locked_until: float
    failures: int
    level: int
    flags: int


class Lockout:
    """The shared failure table of one data directory."""

    def __init__(self, path: Path, policy: LockoutPolicy, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.policy = policy
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with self._locked():
            header = os.pread(self._fd, _HEADER.size, 0)
            if len(header) < _HEADER.size or _HEADER.unpack(header) != (_MAGIC, SLOTS):
                os.ftruncate(self._fd, 0)
                os.ftruncate(self._fd, _SIZE)
                os.pwrite(self._fd, _HEADER.pack(_MAGIC, SLOTS), 0)
        self._map = mmap.mmap(self._fd, _SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    def close(self) -> None:
        with contextlib.suppress(BufferError, ValueError):
            self._map.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    # Slots
    def _read(self, offset: int) -> _Slot:
        return _Slot(*_SLOT.unpack_from(self._map, offset))

    def _write(self, offset: int, slot: _Slot) -> None:
        _SLOT.pack_into(
            self._map, offset, slot.key, slot.period_start, slot.locked_until, slot.failures, slot.level, slot.flags
        )

    def _slot_of(self, key: bytes, offsets: tuple[int, ...]) -> int | None:
        """The offset of ``key``'s slot, or None when it has none (no lock taken: one slice per probe)."""
        table = self._map
        for offset in offsets:
            found = table[offset : offset + 16]
            if found == key:
                return offset
            if found == _EMPTY:
                return None
        return None

    def _recorded(self, key: bytes, offset: int) -> bool:
        """Whether the slot at ``offset`` (``key``'s) holds anything beyond a tombstone."""
        return self._map[offset + 16 : offset + _SLOT.size] != _CLEAR

    def _find(self, key: bytes) -> tuple[int, _Slot] | None:
        offset = self._slot_of(key, _probe(key))
        return None if offset is None else (offset, self._read(offset))

    def _claim(self, key: bytes, now: float) -> tuple[int, _Slot]:
        """The slot of ``key``, made (or reused) when it has none. Under the file lock."""
        candidates: list[tuple[int, _Slot]] = []
        for offset in _probe(key):
            slot = self._read(offset)
            if slot.key == key:
                return offset, slot
            if slot.key == _EMPTY:
                return offset, _Slot(key, 0.0, 0.0, 0, 0, 0)
            candidates.append((offset, slot))
        unlocked = [item for item in candidates if item[1].locked_until <= now]
        pool = unlocked or candidates
        offset, _old = min(pool, key=lambda item: item[1].locked_until if not unlocked else item[1].period_start)
        return offset, _Slot(key, 0.0, 0.0, 0, 0, 0)

    # The questions
    def retry_after(self, source: str) -> float | None:
        """Seconds until ``source`` may authenticate again, or None when it is not locked (no lock taken)."""
        key, offsets = _home(source)
        offset = self._slot_of(key, offsets)
        if offset is None or not self._recorded(key, offset):
            return None
        slot = self._read(offset)
        now = self._clock()
        if slot.locked_until > now:
            return slot.locked_until - now
        if slot.flags & _ACTIVE:
            self._end(source)
        return None

    def failed(self, source: str) -> None:
        """Count one failed authentication of ``source``; may start its lockout."""
        key = _key(source)
        now = self._clock()
        started: float | None = None
        with self._locked():
            offset, slot = self._claim(key, now)
            if slot.locked_until > now:
                return  # answered while locked (a verification that was already queued): not a new guess
            if slot.flags & _ACTIVE:
                self._log_end(source, slot)
                slot.flags &= ~_ACTIVE
            if slot.locked_until and now - slot.locked_until > self.policy.max_window:
                slot.level = 0  # the previous lockout is long over: start from the base window again
            if slot.failures == 0 or now - slot.period_start > self.policy.period:
                slot.period_start, slot.failures = now, 0
            slot.failures += 1
            if slot.failures >= self.policy.failures:
                slot.level += 1
                started = self.policy.window_for(slot.level)
                slot.locked_until, slot.failures, slot.flags = now + started, 0, slot.flags | _ACTIVE
            self._write(offset, slot)
        if started is not None:
            logger.warning(
                "authentication lockout started",
                extra={"peer": source, "window_s": started, "failures": self.policy.failures, "lockout": slot.level},
            )
            self._end_later(source, started)

    def succeeded(self, source: str) -> None:
        """One success forgets ``source``'s failures and lockout history (a lock-free read when it has none)."""
        key, offsets = _home(source)
        offset = self._slot_of(key, offsets)
        if offset is None or not self._recorded(key, offset):
            return
        with self._locked():
            for offset in _probe(key):
                slot = self._read(offset)
                if slot.key == key:
                    if slot.flags & _ACTIVE:
                        self._log_end(source, slot)
                    # A tombstone keeps later entries of the probe chain reachable.
                    self._write(offset, _Slot(key, 0.0, 0.0, 0, 0, 0))
                    return

    def _end_later(self, source: str, delay: float) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: the next question about it logs the end
            asyncio.get_running_loop().call_later(delay, self._end, source)

    def _end(self, source: str) -> None:
        """Log the end of ``source``'s lockout once (whichever worker gets here first)."""
        if self._map.closed:
            return
        key = _key(source)
        with self._locked():
            found = self._find(key)
            if found is None:
                return
            offset, slot = found
            if not slot.flags & _ACTIVE:
                return
            left = slot.locked_until - self._clock()
            if left <= 0:
                self._log_end(source, slot)
                slot.flags &= ~_ACTIVE
                self._write(offset, slot)
        if left > 0:  # timers may fire a little early (clock resolution): look again when it is over
            self._end_later(source, left + 0.01)

    def _log_end(self, source: str, slot: _Slot) -> None:
        logger.warning("authentication lockout ended", extra={"peer": source, "lockout": slot.level})

    @staticmethod
    def retry_after_header(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))
