"""Measuring processes from the outside: CPU seconds and peak memory from
/proc, the machine's busy time, and running a command to its end with its
wall time, CPU time and peak RSS (from wait4, which covers every thread and
every descendant the command waited for)."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
GIB = 1024 * MIB
KILL_GRACE_S = 10.0  # a command past its timeout gets SIGTERM, then SIGKILL after this


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds of process ``pid`` (all its threads) so far.

    Raises OSError when the process is gone.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def peak_rss_mib(pid: int) -> float:
    """Return the peak resident memory (VmHWM) of process ``pid`` in MiB (0 if gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_ticks() -> list[int]:
    # user nice system idle iowait irq softirq steal guest guest_nice
    return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


def machine_busy_seconds() -> float:
    """Return the CPU seconds all cores spent running something here since boot
    (user, nice, system, irq, softirq; not idle, iowait or steal)."""
    ticks = _cpu_ticks()
    return (sum(ticks[:3]) + ticks[5] + ticks[6]) / CLOCK_TICKS_PER_S


def background_busy_pct(seconds: float = 2.0) -> float:
    """Return how busy the machine is (percent of all cores), sampled over ``seconds``."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return 100 * (machine_busy_seconds() - before) / (seconds * (os.cpu_count() or 1))


def machine_steal_seconds() -> float:
    """Return the CPU seconds the hypervisor took from this VM since boot."""
    ticks = _cpu_ticks()
    return ticks[7] / CLOCK_TICKS_PER_S if len(ticks) > 7 else 0.0


@dataclass(frozen=True)
class Usage:
    """What one finished command cost."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float
    returncode: int
    timed_out: bool = False


def run_measured(
    cmd: Sequence[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 900.0,
) -> Usage:
    """Run ``cmd`` (output appended to ``log_path``) and return its cost.

    The wall time runs from just before the fork to the moment the process
    ended (a pidfd wakes us, no polling); CPU and peak RSS come from wait4.
    """
    with log_path.open("ab") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=cwd,
        )  # fmt: skip
    pidfd = os.pidfd_open(proc.pid)
    try:
        timed_out = not _wait_readable(pidfd, timeout_s)
        if timed_out:
            proc.terminate()
            if not _wait_readable(pidfd, KILL_GRACE_S):
                proc.kill()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    finally:
        os.close(pidfd)
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    cpu = usage.ru_utime + usage.ru_stime
    return Usage(wall, cpu, usage.ru_maxrss / 1024, proc.returncode, timed_out)


def _wait_readable(fd: int, timeout_s: float) -> bool:
    readable, _, _ = select.select([fd], [], [], timeout_s)
    return bool(readable)


def tail(path: Path, lines: int = 3) -> str:
    """Return the last ``lines`` non-empty lines of a log, joined with ' | '."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
