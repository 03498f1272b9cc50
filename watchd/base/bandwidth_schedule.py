"""A weekly bandwidth timetable: which upload cap is in force at a given moment.

Each entry starts a cap on some days of the week at a local time of day; it
holds until the next entry starts, across midnight and across the week's end
(so ``Sat-Sun pause`` still holds on Monday before that day's first entry).
The schedule is read in wall-clock time of one time zone: an entry at 07:00
starts at 07:00 local time whatever the UTC offset is that day. On the day
clocks go forward, an entry inside the skipped hour starts when the clock
jumps past it; on the day they go back, an entry inside the repeated hour
starts the first time its time comes round.

A cap is bytes per second; None is no cap and ``PAUSED`` (0) lets no bytes through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

PAUSED = 0  # the cap of "pause": no bytes at all
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
EVERY_DAY = frozenset(range(7))


@dataclass(frozen=True)
class ScheduleEntry:
    """From ``minute`` (after local midnight) on each of ``days`` (0 = Monday), cap ``rate``."""

    days: frozenset[int]
    minute: int
    rate: int | None
    text: str  # the entry as written, for messages


@dataclass(frozen=True)
class CapInForce:
    """The cap at one moment, the entry that set it, and when the next entry starts."""

    rate: int | None
    entry: ScheduleEntry
    next_change: str | None  # e.g. "Mon 19:00" (local time); None for a constant cap


@dataclass(frozen=True)
class BandwidthSchedule:
    """Entries of a weekly timetable (at least one)."""

    entries: tuple[ScheduleEntry, ...]

    @classmethod
    def constant(cls, rate: int | None, text: str = "") -> BandwidthSchedule:
        """Return a schedule with one cap all week."""
        return cls((ScheduleEntry(EVERY_DAY, 0, rate, text),))

    @property
    def constant_rate(self) -> int | None:
        """The cap when every start in the week sets the same one; raises ValueError if not."""
        rates = {entry.rate for entry in self.entries}
        if len(rates) != 1:
            raise ValueError("the cap changes during the week")
        return rates.pop()

    @property
    def is_constant(self) -> bool:
        """True when the cap never changes."""
        return len({entry.rate for entry in self.entries}) == 1

    def _starts(self) -> list[tuple[int, ScheduleEntry]]:
        """Every start in the week as (minute of the week, entry), in order."""
        starts = [
            (day * MINUTES_PER_DAY + entry.minute, entry)
            for entry in self.entries
            for day in entry.days
        ]
        return sorted(starts, key=lambda start: start[0])

    def at(self, moment: datetime, zone: tzinfo | None = None) -> CapInForce:
        """Return the cap in force at ``moment`` (aware), read in ``zone`` (None: the system's)."""
        now = _minute_of_week(moment.astimezone(zone))
        starts = self._starts()
        # Before the week's first start, the week's last start still holds.
        index = max((i for i, start in enumerate(starts) if start[0] <= now), default=-1)
        entry = starts[index][1]
        nxt = None
        for step in range(1, len(starts) + 1):  # the next start that changes the cap
            minute, later = starts[(index + step) % len(starts)]
            if later.rate != entry.rate:
                nxt = _label(minute)
                break
        return CapInForce(entry.rate, entry, nxt)


def _label(minute_of_week: int) -> str:
    day, minute = divmod(minute_of_week, MINUTES_PER_DAY)
    return f"{DAY_NAMES[day]} {minute // 60:02d}:{minute % 60:02d}"


def _minute_of_week(local: datetime) -> int:
    """Minutes since Monday 00:00 of the wall-clock time ``local``.

    In the second pass through an hour the clocks went back over, every start
    in that hour has already come round once: the time counts as the hour's end.
    """
    if local.fold == 1:
        naive = local.replace(tzinfo=None, fold=0)
        while _repeated(naive + timedelta(minutes=1), local.tzinfo):
            naive += timedelta(minutes=1)
        local = naive
    return local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute


def _repeated(naive: datetime, zone: tzinfo | None) -> bool:
    """True if the wall time ``naive`` happens twice in ``zone`` (clocks went back over it)."""
    first, second = naive.replace(tzinfo=zone), naive.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset()
