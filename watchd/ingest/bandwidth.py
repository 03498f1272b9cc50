"""Shared upload bandwidth caps (token buckets): one for all uploads, one per folder.

Every chunk of every part passes through :meth:`Throttle.acquire` before it
is sent and waits there for its share of the cap in force: the cap of all
uploads together and, where the folder has its own, the folder's. A cap of
0 (pause) lets nothing through: a part in flight waits at its next chunk and
carries on when the pause ends. The wait is a wait on the job's stop token, so
a stop or a cancel ends it at once.

The caps come from a source (the daemon's schedule and `watchd throttle`),
asked again at least every ``REFRESH_SECONDS``, so a change reaches parts
already in flight within a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from watchd.base.stop import StopToken

log = logging.getLogger(__name__)

BURST_SECONDS = 0.5  # tokens saved up while idle, in seconds of the rate
MAX_WAIT_SLICE_SECONDS = 0.25  # waits are cut into slices so a changed cap is seen promptly
REFRESH_SECONDS = 0.25  # how often the caps are asked for again
MIN_WAIT_SECONDS = 0.001  # never spin on rounding errors
PAUSED = 0  # a cap that lets no bytes through


@dataclass(frozen=True)
class Caps:
    """Bytes per second for all uploads together and per folder (None: no cap, 0: pause)."""

    total: int | None = None
    folders: Mapping[str, int | None] = field(default_factory=dict)


class _Bucket:
    """One token bucket; the caller holds the throttle's lock."""

    def __init__(self, rate: int | None, now: float):
        self.rate = rate
        self.tokens = 0.0
        self.updated = now

    def set_rate(self, rate: int | None, now: float) -> None:
        if rate != self.rate:
            self.rate, self.tokens, self.updated = rate, 0.0, now

    def wait_for(self, size: int, now: float) -> float:
        """Refill; return 0 if ``size`` bytes may go now, else seconds to wait."""
        rate = self.rate
        if rate is None:
            return 0.0
        if rate == PAUSED:
            return MAX_WAIT_SLICE_SECONDS
        burst = rate * BURST_SECONDS
        self.tokens = min(self.tokens + (now - self.updated) * rate, burst)
        self.updated = now
        if self.tokens + 0.5 >= size or self.tokens + 0.5 >= burst:
            return 0.0  # a chunk larger than the burst goes into debt
        return max((min(size, burst) - self.tokens) / rate, MIN_WAIT_SECONDS)

    def take(self, size: int) -> None:
        if self.rate:
            self.tokens -= size


class Throttle:
    """Limits the bytes per second sent by all uploads together, and per folder."""

    def __init__(self, rate: int | None, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._total = _Bucket(rate, clock())
        self._folders: dict[str, _Bucket] = {}
        self._source: Callable[[], Caps] | None = None
        self._refreshed = float("-inf")

    def set_rate(self, rate: int | None) -> None:
        """Cap all uploads together at ``rate`` (None: no cap, 0: pause); no folder caps."""
        with self._lock:
            self._source = None
            self._apply(Caps(rate))

    def follow(self, source: Callable[[], Caps]) -> None:
        """Take the caps from ``source`` from now on, asking it at least every REFRESH_SECONDS."""
        with self._lock:
            self._source = source
            self._refreshed = float("-inf")

    def acquire(self, size: int, stop: StopToken, folder: str | None = None) -> None:
        """Wait until ``size`` bytes of ``folder`` may go; raises Stopped when ``stop`` is set."""
        while True:
            stop.check()
            wait = self._take(size, folder)
            if wait <= 0:
                return
            stop.wait(min(wait, MAX_WAIT_SLICE_SECONDS))

    def _take(self, size: int, folder: str | None) -> float:
        """Take the tokens if every bucket has enough; otherwise return seconds to wait."""
        with self._lock:
            now = self._clock()
            self._refresh(now)
            buckets = [self._total]
            own = self._folders.get(folder) if folder is not None else None
            if own is not None:
                buckets.append(own)
            wait = max(bucket.wait_for(size, now) for bucket in buckets)
            if wait <= 0:
                for bucket in buckets:
                    bucket.take(size)
            return wait

    def _refresh(self, now: float) -> None:
        if self._source is None or now - self._refreshed < REFRESH_SECONDS:
            return
        self._refreshed = now
        try:
            caps = self._source()
        except Exception:
            log.exception("cannot read the bandwidth caps; keeping the ones in force")
            return
        self._apply(caps)

    def _apply(self, caps: Caps) -> None:
        now = self._clock()
        self._total.set_rate(caps.total, now)
        for name in list(self._folders):
            if caps.folders.get(name) is None:
                del self._folders[name]
        for name, rate in caps.folders.items():
            if rate is None:
                continue
            bucket = self._folders.setdefault(name, _Bucket(rate, now))
            bucket.set_rate(rate, now)
