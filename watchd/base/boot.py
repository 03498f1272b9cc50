"""Which boot of this machine a process runs in.

``/proc/sys/kernel/random/boot_id`` names it exactly, but the hardened
service (``ProcSubset=pid``) cannot read ``/proc/sys``. The moment of the
boot, the wall clock less CLOCK_BOOTTIME, stands in there: two readings in
one boot agree within BOOT_MOMENT_SLACK_SECONDS (NTP's slewing over weeks;
a step of the clock larger than that only makes two readings of one boot
look like two boots, the safe mistake).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")  # Linux: new at every boot
BOOT_MOMENT_SLACK_SECONDS = 60.0


@dataclass(frozen=True)
class Boot:
    """One boot of one machine: its id where readable ("" elsewhere), and its moment."""

    id: str
    at: float  # wall-clock seconds (Unix time) when the machine booted

    def same_as(self, other: Boot) -> bool:
        """Return True if both were read in the same boot of the same machine."""
        if self.id and other.id:
            return self.id == other.id
        return abs(self.at - other.at) < BOOT_MOMENT_SLACK_SECONDS


def seconds_since_boot() -> float:
    """Return seconds since this machine booted, time asleep included (CLOCK_BOOTTIME;
    the monotonic clock where there is none, which does not count sleep)."""
    return time.clock_gettime(getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC))


def this_boot() -> Boot:
    """Return the boot this process runs in."""
    try:
        boot_id = BOOT_ID.read_text().strip()
    except OSError:
        boot_id = ""
    return Boot(boot_id, time.time() - seconds_since_boot())
