"""The clock seam: wall time for what is stored, a monotonic clock for intervals.

Everything that stores or compares timestamps takes a :class:`Clock`, so tests
drive time by hand instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the daemon needs to know about time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware in UTC."""
        ...

    def monotonic(self) -> float:
        """Return seconds on a clock that never goes back (for durations)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()
