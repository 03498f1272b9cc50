"""Noticing the system clock set back, and the machine waking from sleep.

APScheduler 3 keeps each periodic job's next run as a wall-clock time: with
the clock set back two hours (an RTC kept in local time, corrected by NTP
after a boot) it would wait two hours before the next requeue, batch close
or status write. A laptop closed on set mid-upload wakes with TCP
connections that a NAT or the server dropped while it slept: a request on
one hangs until its read timeout. The daemon's main loop looks once a
second. Of the three clocks, the monotonic one neither goes back nor counts
sleep, CLOCK_BOOTTIME counts sleep, the wall clock may do both.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from watchd.base.boot import seconds_since_boot
from watchd.base.stop import StopToken
from watchd.config.units import format_duration

log = logging.getLogger(__name__)

STEP_NOTICE_SECONDS = 2.0  # a wall clock set back by less is left alone (NTP slews it)
SLEEP_NOTICE_SECONDS = 5.0  # a shorter sleep leaves the connections usable


@dataclass(frozen=True)
class ClockChange:
    """What happened to the clocks since the last look (0.0: nothing worth noting)."""

    set_back: float = 0.0  # seconds the wall clock was set back
    slept: float = 0.0  # seconds the machine was suspended


class ClockWatch:
    """Compares the wall clock and the boot clock with the monotonic one at each look."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        boot: Callable[[], float] = seconds_since_boot,
    ):
        self._wall = wall
        self._monotonic = monotonic
        self._boot = boot
        self._wall_gap, self._sleep_gap = self._gaps()

    def look(self) -> ClockChange:
        """Return what changed since the last look."""
        wall_gap, sleep_gap = self._gaps()
        slept = sleep_gap - self._sleep_gap
        stepped = wall_gap - self._wall_gap - slept  # the wall clock's own jump, sleep aside
        self._wall_gap, self._sleep_gap = wall_gap, sleep_gap
        return ClockChange(
            set_back=-stepped if stepped <= -STEP_NOTICE_SECONDS else 0.0,
            slept=slept if slept >= SLEEP_NOTICE_SECONDS else 0.0,
        )

    def _gaps(self) -> tuple[float, float]:
        now = self._monotonic()
        return self._wall() - now, self._boot() - now


def cut_after_sleep(change: ClockChange, cut: Callable[[], int]) -> None:
    """After a sleep, cut the connections kept from before it (``cut`` returns how many)."""
    if change.slept:
        count = cut()
        log.warning(
            "the machine slept for %s: %d connection(s) from before cut; requests under way "
            "are sent again",
            format_duration(round(change.slept)),
            count,
        )


def watch_for_wakes(
    cut: Callable[[], int], stop: StopToken, watch: ClockWatch | None = None
) -> threading.Thread:
    """Look once a second, on a thread of its own until ``stop``, and cut the connections
    after each sleep: for commands with no main loop of their own (``watchd upload``)."""
    clocks = watch or ClockWatch()

    def run() -> None:
        while not stop.wait(1.0):
            cut_after_sleep(clocks.look(), cut)

    thread = threading.Thread(target=run, name="wake-watch", daemon=True)
    thread.start()
    return thread
