"""A shared upload bandwidth cap (token bucket).

Every chunk of every part passes through :meth:`Throttle.acquire` before it
is sent and waits there for its share of the configured rate. The wait is a
wait on the job's stop token, so a stop or a cancel ends it at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from watchd.base.stop import StopToken

BURST_SECONDS = 0.5  # tokens saved up while idle, in seconds of the rate
MAX_WAIT_SLICE_SECONDS = 0.5  # waits are cut into slices so a changed rate is seen promptly
MIN_WAIT_SECONDS = 0.001  # never spin on rounding errors


class Throttle:
    """Limits the bytes per second sent by all uploads together (None: no limit)."""

    def __init__(self, rate: int | None, clock: Callable[[], float] = time.monotonic):
        self._rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = 0.0
        self._updated = clock()

    def set_rate(self, rate: int | None) -> None:
        """Change the cap (on a config reload)."""
        with self._lock:
            self._rate = rate
            self._tokens = 0.0
            self._updated = self._clock()

    def acquire(self, size: int, stop: StopToken) -> None:
        """Wait until ``size`` bytes may be sent; raises Stopped when ``stop`` is set."""
        while True:
            stop.check()
            wait = self._take(size)
            if wait <= 0:
                return
            stop.wait(min(wait, MAX_WAIT_SLICE_SECONDS))

    def _take(self, size: int) -> float:
        """Take the tokens if there are enough; otherwise return seconds to wait."""
        with self._lock:
            rate = self._rate
            if rate is None:
                return 0.0
            now = self._clock()
            self._tokens = min(self._tokens + (now - self._updated) * rate, rate * BURST_SECONDS)
            self._updated = now
            if self._tokens + 0.5 >= size or self._tokens + 0.5 >= rate * BURST_SECONDS:
                self._tokens -= size  # a chunk larger than the burst goes into debt
                return 0.0
            return max((min(size, rate * BURST_SECONDS) - self._tokens) / rate, MIN_WAIT_SECONDS)
