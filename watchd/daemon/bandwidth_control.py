"""Which upload caps are in force now: the configured schedules and `watchd throttle`.

The cap for all uploads together is the operator's override while one holds,
else the schedule of ``transfer.bandwidth``; a folder with its own
``bandwidth`` is also held to that (the lower of the two applies, as both
buckets must let a chunk through). Schedules are read in ``transfer.timezone``,
else in the system's zone. The throttle asks :meth:`BandwidthControl.caps`
every quarter second; status asks :meth:`BandwidthControl.report`. Each
change of the overall cap is logged once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watchd.base.bandwidth_schedule import PAUSED, BandwidthSchedule
from watchd.base.clock import Clock
from watchd.config import Config
from watchd.config.units import format_rate
from watchd.daemon.throttle_override import Override, override_path, read_override
from watchd.ingest.bandwidth import Caps

log = logging.getLogger(__name__)

LOCALTIME = Path("/etc/localtime")
SCHEDULE = "schedule"
CONFIGURED = "transfer.bandwidth"  # one cap, at all times: the config's, with no schedule
OPERATOR = "watchd throttle"


def system_zone() -> tzinfo | None:
    """Return the system's time zone as a ZoneInfo (so DST changes are known), or None.

    $TZ first, then the zone /etc/localtime links to; None leaves it to the C
    library (a fixed offset at each moment).
    """
    names = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        names.append(str(LOCALTIME.resolve()).partition("zoneinfo/")[2])
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return None


def describe_rate(rate: int | None) -> str:
    """Return a cap as people read it: 20MB/s, unlimited or paused."""
    return "paused" if rate == PAUSED else format_rate(rate)


class BandwidthControl:
    """The caps in force, from the config and the override file in ``state_dir``."""

    def __init__(self, config: Config, clock: Clock):
        self._clock = clock
        self._lock = threading.Lock()
        self._override: Override | None = None
        self._seen: tuple[int, int, int] | None = None  # the override file's identity
        self._logged: str | None = None
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Take the schedules and zone of ``config`` (at start and on reload)."""
        name = config.transfer.timezone
        with self._lock:
            self._state_dir = config.state_dir
            self._zone = ZoneInfo(name) if name else system_zone()
            self._zone_name = name or (str(self._zone) if self._zone else "system")
            self._schedule: BandwidthSchedule = config.transfer.bandwidth
            self._folders = {f.name: f.bandwidth for f in config.folders if f.bandwidth}

    def caps(self) -> Caps:
        """Return the caps in force now (for the throttle)."""
        now = self._clock.now()
        with self._lock:
            total, _ = self._total(now)
            folders = {name: s.at(now, self._zone).rate for name, s in self._folders.items()}
        return Caps(total, folders)

    def report(self) -> dict[str, Any]:
        """Return the cap in force and why, for status.json and `watchd status`."""
        now = self._clock.now()
        with self._lock:
            rate, detail = self._total(now)
            folders = {
                name: describe_rate(s.at(now, self._zone).rate) for name, s in self._folders.items()
            }
        return {"cap": describe_rate(rate), "bytes_per_second": rate, **detail, "folders": folders}

    def _total(self, now: datetime) -> tuple[int | None, dict[str, Any]]:
        override = self._current_override(now)
        if override is not None:
            rate = override.rate
            detail: dict[str, Any] = {
                "source": OPERATOR,
                "until": _clock_time(override.until, self._zone, now) if override.until else None,
                "until_at": datetime.fromtimestamp(override.until, UTC).isoformat(
                    timespec="seconds"
                )
                if override.until
                else None,
                "next_change": None,
            }
        else:
            in_force = self._schedule.at(now, self._zone)
            rate = in_force.rate
            detail = {
                "source": SCHEDULE if in_force.next_change else CONFIGURED,
                "until": in_force.next_change,
                "next_change": in_force.next_change,
                "entry": in_force.entry.text,
            }
        detail["timezone"] = self._zone_name
        self._log_change(rate, detail)
        return rate, detail

    def _current_override(self, now: datetime) -> Override | None:
        path = override_path(self._state_dir)
        try:
            info = path.stat()
            identity = (info.st_ino, info.st_mtime_ns, info.st_size)
        except OSError:
            identity = None
        if identity != self._seen:
            self._seen = identity
            self._override = read_override(self._state_dir) if identity else None
        override = self._override
        if override is not None and not override.active(now.timestamp()):
            return None
        return override

    def _log_change(self, rate: int | None, detail: dict[str, Any]) -> None:
        text = summary(describe_rate(rate), detail)
        if text != self._logged:
            if self._logged is not None or rate is not None or detail["source"] == OPERATOR:
                log.info("upload %s", text)
            self._logged = text


def worth_showing(report: dict[str, Any]) -> bool:
    """False for a plain 'no cap, ever' (not worth a place on the STATUS= line)."""
    capped = report["bytes_per_second"] is not None
    return capped or report["source"] == OPERATOR or report.get("next_change") is not None


def summary(cap: str, detail: dict[str, Any]) -> str:
    """Return e.g. 'cap 20MB/s (schedule until Mon 19:00)' for logs and STATUS=."""
    head = cap if cap in ("paused", "unlimited") else f"cap {cap}"
    until = f" until {detail['until']}" if detail.get("until") else ""
    return f"{head} ({detail['source']}{until})"


def _clock_time(timestamp: float, zone: tzinfo | None, now: datetime) -> str:
    """A moment as people read it: its weekday and time within the week ahead, else its
    date too (a week and more away, a bare weekday names the wrong one)."""
    moment = datetime.fromtimestamp(timestamp, zone)
    if moment - now.astimezone(zone) < timedelta(days=6):
        return moment.strftime("%a %H:%M")
    return moment.strftime("%a %Y-%m-%d %H:%M")


def bandwidth_line(report: dict[str, Any]) -> str:
    """Return e.g. 'Uploads: cap 20MB/s (schedule until Wed 19:00, Europe/London)'."""
    text = summary(report["cap"], report)
    if report.get("source") != CONFIGURED:  # (a time of day is read in this zone)
        text = text[:-1] + f", {report['timezone']})"
    if report.get("source") == OPERATOR:
        text += "; `watchd throttle --clear` returns to transfer.bandwidth"
    for name, cap in report.get("folders", {}).items():
        text += f"; folder {name}: {cap}"
    return f"Uploads: {text}"
