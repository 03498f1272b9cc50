"""A file in flight as people read it: percent done, rate and time left.

Shared by `watchd status` and the status page; the figures come from the
transfer board's snapshot (``bytes_done``, ``bytes_total``,
``rate_bytes_per_second``).
"""

from __future__ import annotations

from typing import Any

MIN_RATE_FOR_ETA = 1.0  # bytes/s: below this (paused, just started) no time left is shown


def percent(transfer: dict[str, Any]) -> float:
    """Return how much of the file is sent, 0..100."""
    total = transfer["bytes_total"]
    return 100.0 * transfer["bytes_done"] / total if total else 100.0


def eta_seconds(transfer: dict[str, Any]) -> float | None:
    """Return the seconds left at the current rate, or None when there is no rate yet."""
    rate = float(transfer["rate_bytes_per_second"])
    if rate < MIN_RATE_FOR_ETA:
        return None
    left: int = max(0, transfer["bytes_total"] - transfer["bytes_done"])
    return left / rate


def rate_text(transfer: dict[str, Any]) -> str:
    """Return e.g. '12.3 MB/s'."""
    return f"{transfer['rate_bytes_per_second'] / 1e6:.1f} MB/s"


def duration_text(seconds: float | None) -> str:
    """Return e.g. '42s', '3m05s', '2h10m', or '-' when unknown."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def transfer_line(transfer: dict[str, Any], paused: bool = False) -> str:
    """Return e.g. ' 42.0%  12.3 MB/s  ETA 3m05s' (' 42.0%  paused' while uploads are)."""
    if paused:
        return f"{percent(transfer):5.1f}%  paused"
    eta = duration_text(eta_seconds(transfer))
    return f"{percent(transfer):5.1f}%  {rate_text(transfer):>10}  ETA {eta}"
