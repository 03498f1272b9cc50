"""Durations, sizes and transfer rates as people write them in YAML.

``10s``, ``5m``, ``500ms``, ``1h30m`` (a plain number is seconds); ``16MiB``,
``5MB`` (a plain number is bytes); ``40MB/s``, ``100Mbit/s`` or ``unlimited``
(a rate always needs its unit, and is at least 64 KiB/s). Each parser turns
the text into float seconds, int bytes, or int bytes per second (None for
unlimited), and says what was expected when it cannot; the schema's annotated
types (``fieldtypes.Duration``, ``Size``) and the bandwidth syntax use them.
No pydantic here: the command line parses with them too, and starts faster
without it.
"""

from __future__ import annotations

import math
import re
from typing import Any

DURATION_UNITS_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SIZE_UNITS_BYTES = {
    "": 1,
    "B": 1,
    "KB": 1000,
    "kB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}
# Network people think in bits: accepted for rates only, converted to bytes.
BIT_RATE_UNITS_BYTES = {
    "kbit": 1000 / 8,
    "Mbit": 1000**2 / 8,
    "Gbit": 1000**3 / 8,
    "kbps": 1000 / 8,
    "Mbps": 1000**2 / 8,
    "Gbps": 1000**3 / 8,
}
UNLIMITED = "unlimited"
# The lowest rate cap accepted: below it a 16 MiB part takes minutes and uploads look
# stalled; it also catches a unit slip (40 bytes/s where 40MB/s was meant).
MIN_RATE_KIB_PER_SECOND = 64
MIN_RATE_BYTES_PER_SECOND = MIN_RATE_KIB_PER_SECOND * 1024

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DURATION_PART_RE = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_DURATION_RE = re.compile(rf"(?:{_NUMBER}(?:ms|s|m|h|d))+")
_QUANTITY_RE = re.compile(rf"({_NUMBER})\s*([A-Za-z]*)")

DURATION_HINT = "use e.g. 10s, 5m, 1h30m or 500ms"
SIZE_HINT = "use e.g. 16MiB, 5MB or 1GiB"
RATE_HINT = "use e.g. 40MB/s, 100Mbit/s or unlimited"
RATE_UNIT_HINT = "write e.g. 40MB/s, 5MiB/s or unlimited"
ZERO_RATE_MESSAGE = "would stop every upload; write unlimited for no cap, or e.g. 40MB/s"


def _plain_number(value: Any) -> float | None:
    """Return ``value`` as a float if it is a YAML number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _shown(value: Any) -> str:
    """Return ``value`` as the user wrote it in YAML (true, not True)."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return repr(value)


def _text(value: Any, kind: str, hint: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{_shown(value)} is not {kind}; {hint}")
    return value.strip()


def parse_duration(value: Any) -> float:
    """Return a duration in seconds; raises ValueError naming the accepted forms."""
    number = _plain_number(value)
    if number is None:
        text = _text(value, "a duration", DURATION_HINT)
        compact = text.replace(" ", "")
        if _DURATION_RE.fullmatch(compact):
            number = sum(
                float(amount) * DURATION_UNITS_SECONDS[unit]
                for amount, unit in _DURATION_PART_RE.findall(compact)
            )
        else:
            try:
                number = float(compact)
            except ValueError:
                raise ValueError(f"{text!r} is not a duration; {DURATION_HINT}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{_shown(value)} is not a duration; {DURATION_HINT}")
    return number


def _quantity(text: str, kind: str, hint: str) -> tuple[float, str]:
    match = _QUANTITY_RE.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not {kind}; {hint}")
    return float(match.group(1)), match.group(2)


def parse_size(value: Any) -> int:
    """Return a size in bytes; raises ValueError naming the accepted forms."""
    number = _plain_number(value)
    if number is not None:
        if number < 0 or not math.isfinite(number):
            raise ValueError(f"{_shown(value)} is not a size; {SIZE_HINT}")
        return round(number)
    text = _text(value, "a size", SIZE_HINT)
    amount, unit = _quantity(text, "a size", SIZE_HINT)
    if unit not in SIZE_UNITS_BYTES:
        raise ValueError(f"{text!r}: unknown size unit {unit!r}; {SIZE_HINT}")
    return round(amount * SIZE_UNITS_BYTES[unit])


def parse_rate(value: Any) -> int | None:
    """Return a rate in bytes per second, or None for ``unlimited`` (or null).

    Raises ValueError saying what to write instead: for a rate without a unit
    (a bare ``40`` would be 40 bytes/s, which stalls every upload), for zero
    (write ``unlimited`` for no limit), and for a rate below
    ``MIN_RATE_BYTES_PER_SECOND``.
    """
    if value is None:
        return None
    number = _plain_number(value)
    if number is not None:
        if number == 0:
            raise ValueError(f"{_shown(value)} {ZERO_RATE_MESSAGE}")
        if number > 0 and math.isfinite(number):
            raise ValueError(f"{_shown(value)} has no unit; {RATE_UNIT_HINT}")
        raise ValueError(f"{_shown(value)} is not a usable rate; {RATE_HINT}")
    text = _text(value, "a transfer rate", RATE_HINT)
    if text.lower() == UNLIMITED:
        return None
    rate = _rate_from_text(text)
    if rate <= 0:
        raise ValueError(f"{text!r} {ZERO_RATE_MESSAGE}")
    if rate < MIN_RATE_BYTES_PER_SECOND:
        lowest = f"{MIN_RATE_KIB_PER_SECOND}KiB/s"
        raise ValueError(
            f"{text} is below the lowest cap of {MIN_RATE_KIB_PER_SECOND} KiB/s; "
            f"write {lowest} or more, or {UNLIMITED}"
        )
    return rate


def _rate_from_text(text: str) -> int:
    compact = text.replace(" ", "").removesuffix("/s")
    amount, unit = _quantity(compact, "a transfer rate", RATE_HINT)
    if not unit:
        raise ValueError(f"{text!r} has no unit; {RATE_UNIT_HINT}")
    if unit in BIT_RATE_UNITS_BYTES:
        return round(amount * BIT_RATE_UNITS_BYTES[unit])
    if unit.endswith("ps") and unit[:-2] in SIZE_UNITS_BYTES:  # MBps
        unit = unit[:-2]
    if unit in SIZE_UNITS_BYTES:
        return round(amount * SIZE_UNITS_BYTES[unit])
    if f"{unit[:-1]}bit" in BIT_RATE_UNITS_BYTES:  # Mb: megabits or megabytes?
        raise ValueError(
            f"{text!r} is ambiguous; write {unit[:-1]}B/s for bytes or {unit[:-1]}bit/s for bits"
        )
    raise ValueError(f"{text!r}: unknown rate unit {unit!r}; {RATE_HINT}")


def format_duration(seconds: float) -> str:
    """Return ``seconds`` the way a person would write it in the config (``1h30m``, ``500ms``)."""
    if seconds < 1 and seconds != 0:
        return f"{seconds * 1000:g}ms"
    if seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or "0s"


def format_size(size: int) -> str:
    """Return ``size`` in the largest binary unit that divides it (``16MiB``), else bytes."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        factor = SIZE_UNITS_BYTES[unit]
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def format_rate(rate: int | None) -> str:
    """Return a rate as written in the config (``40MB/s``) or ``unlimited``."""
    if rate is None:
        return UNLIMITED
    for unit in ("GB", "MB", "kB"):
        factor = SIZE_UNITS_BYTES[unit]
        if rate >= factor and rate % factor == 0:
            return f"{rate // factor}{unit}/s"
    return f"{rate}B/s"
