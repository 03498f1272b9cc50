"""Bandwidth caps as written in YAML: one rate, or a weekly timetable.

``40MB/s``, ``unlimited`` and ``pause`` are caps for the whole week. A
timetable is a comma-separated string (or a YAML list) of entries
``[DAYS] [HH:MM] CAP``: DAYS is a day (``Mon``) or a range (``Mon-Fri``,
``Fri-Mon`` wraps), left out for every day; HH:MM is when the cap starts,
left out for 00:00; CAP is a rate, ``unlimited`` or ``pause``. For example
``Mon-Fri 07:00 20MB/s, Mon-Fri 19:00 unlimited, Sat-Sun pause``. Each entry
holds until the next one starts (see :mod:`watchd.base.bandwidth_schedule`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BeforeValidator

from watchd.base.bandwidth_schedule import (
    DAY_NAMES,
    EVERY_DAY,
    PAUSED,
    BandwidthSchedule,
    ScheduleEntry,
)
from watchd.config.units import parse_rate

PAUSE = "pause"
SCHEDULE_HINT = "write e.g. 'Mon-Fri 07:00 20MB/s, Mon-Fri 19:00 unlimited, Sat-Sun pause'"
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_TIME_LIKE_RE = re.compile(r"\d{1,2}[.h]\d{2}")  # 7.00 or 7h00: a time, wrongly written
_DAYS = {name.lower(): number for number, name in enumerate(DAY_NAMES)}
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_cap(text: str) -> int | None:
    """Return one cap: bytes per second, None for ``unlimited``, PAUSED for ``pause``.

    Raises ValueError as :func:`watchd.config.units.parse_rate` does.
    """
    if text.strip().lower() == PAUSE:
        return PAUSED
    return parse_rate(text)


def parse_bandwidth(value: Any) -> BandwidthSchedule:
    """Return the schedule written in ``value``; raises ValueError naming the bad entry."""
    if isinstance(value, BandwidthSchedule):
        return value  # a default
    if value is None or isinstance(value, int | float):
        return BandwidthSchedule.constant(parse_rate(value), str(value))
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = value.split(",")
    else:
        raise ValueError(f"{value!r} is not a rate or a schedule; {SCHEDULE_HINT}")
    if len(items) == 1 and isinstance(items[0], str) and not _has_day_or_time(items[0]):
        return BandwidthSchedule.constant(parse_cap(items[0]), items[0].strip())
    if not items:
        raise ValueError(f"an empty schedule has no cap; {SCHEDULE_HINT}")
    entries = [_entry(item, number) for number, item in enumerate(items, 1)]
    _refuse_clashes(entries)
    return BandwidthSchedule(tuple(entries))


def _has_day_or_time(text: str) -> bool:
    words = text.split()
    return len(words) > 1 and (
        _days(words[0]) is not None or _TIME_RE.fullmatch(words[0]) is not None
    )


def _entry(item: Any, number: int) -> ScheduleEntry:
    if not isinstance(item, str) or not item.strip():
        raise ValueError(f"entry {number} is empty (two commas in a row?); {SCHEDULE_HINT}")
    text = " ".join(item.split())
    words = text.split(" ")
    try:
        days = _days(words[0])
        if days is not None:
            words = words[1:]
        minute = _minute(words[0]) if words else None
        if minute is not None:
            words = words[1:]
        if days is None and minute is None:
            raise ValueError("needs a day (Mon, Mon-Fri) or a time (07:00) before the cap")
        if not words:
            raise ValueError(
                "has no cap after the day and time; end it with e.g. 20MB/s, unlimited or pause"
            )
        rate = parse_cap(" ".join(words))
    except ValueError as exc:
        raise ValueError(f"entry {number} '{text}': {exc}") from None
    return ScheduleEntry(days if days is not None else EVERY_DAY, minute or 0, rate, text)


def _day(word: str) -> int | None:
    word = word.lower()
    if word in _DAYS:
        return _DAYS[word]
    if word in _FULL_DAYS:
        return _FULL_DAYS.index(word)
    return None


def _days(word: str) -> frozenset[int] | None:
    """Return the days ``word`` names (``Mon``, ``Mon-Fri``), or None if it names none."""
    first, dash, last = word.partition("-")
    start = _day(first)
    if start is None:
        return None
    if not dash:
        return frozenset({start})
    end = _day(last)
    if end is None:
        raise ValueError(f"{word!r} is not a range of days; write e.g. Mon-Fri or Sat-Sun")
    return frozenset((start + step) % 7 for step in range((end - start) % 7 + 1))


def _minute(word: str) -> int | None:
    """Return minutes after midnight for ``HH:MM``, or None if ``word`` is no time."""
    match = _TIME_RE.fullmatch(word)
    if not match:
        if ":" in word or _TIME_LIKE_RE.fullmatch(word):
            raise ValueError(f"{word!r} is not a time of day; write HH:MM, e.g. 07:00")
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"{word!r} is not a time of day; write HH:MM from 00:00 to 23:59")
    return hour * 60 + minute


def _refuse_clashes(entries: list[ScheduleEntry]) -> None:
    seen: dict[tuple[int, int], ScheduleEntry] = {}
    for entry in entries:
        for day in sorted(entry.days):
            earlier = seen.get((day, entry.minute))
            if earlier is not None and earlier is not entry:
                raise ValueError(
                    f"entries '{earlier.text}' and '{entry.text}' both start on "
                    f"{DAY_NAMES[day]} at {entry.minute // 60:02d}:{entry.minute % 60:02d}; "
                    "keep one"
                )
            seen[(day, entry.minute)] = entry


def format_bandwidth(schedule: BandwidthSchedule) -> str:
    """Return ``schedule`` as written in the config."""
    return ", ".join(entry.text for entry in schedule.entries)


NO_CAP = BandwidthSchedule.constant(None, "unlimited")  # the default of transfer.bandwidth


def parse_time_zone(value: Any) -> str | None:
    """Return an IANA time zone name (``Europe/London``), or None for the system's zone."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a time zone; write e.g. Europe/London or UTC")
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = sorted(z for z in available_timezones() if z.lower() == name.lower())
        hint = f"did you mean {close[0]}?" if close else "write e.g. Europe/London or UTC"
        raise ValueError(f"{name!r} is not a known time zone; {hint}") from None
    return name


Bandwidth = Annotated[BandwidthSchedule, BeforeValidator(parse_bandwidth)]
"""A cap for the whole week (``40MB/s``, ``unlimited``, ``pause``) or a weekly timetable."""
TimeZoneName = Annotated[str | None, BeforeValidator(parse_time_zone)]
"""An IANA time zone name; None for the system's."""
