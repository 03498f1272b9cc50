"""The clock seam: wall time for what is stored, a monotonic clock for intervals.

Everything that stores or compares timestamps takes a :class:`Clock`, so tests
drive time by hand instead of sleeping.

Stored times outlive the clock that set them: the system clock may be
corrected backwards (an RTC kept in local time, fixed by NTP after a boot),
leaving waits that end hours "from now" and last events "in the future".
Whatever waits on a stored time treats one further off than it could have
been set, by more than CLOCK_SLACK, as set before such a correction.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

CLOCK_SLACK = timedelta(minutes=1)  # how far the clock may go back unnoticed


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
