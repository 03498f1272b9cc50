"""--scan-100k: a daemon started on a drop folder that already holds 100,000
small files in 100 subfolders. How long until the first job is queued, until
all are, and how much memory the daemon needed meanwhile (uploads run too,
into the emulator's --discard store; they are not waited for)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.emulator_proc import EmulatorProcess
from tests.bench.rows import Bench
from tests.bench.watchd_proc import DAEMON_FOLDER, WatchdSource, start_daemon

SUBFOLDERS = 100
POLL_S = 0.25  # how often the database is counted


@dataclass
class ScanResult:
    """What one daemon reached on the big folder."""

    label: str
    files: int
    ready_s: float | None = None  # spawn until the folder's project was resolved
    first_queued_s: float | None = None  # spawn until the first job row
    all_queued_s: float | None = None  # spawn until every file has a job row
    queued: int = 0
    done: int = 0
    stopped_s: float = 0.0  # spawn until the scan stopped watching (all queued, or given up)
    peak_rss_mib: float = 0.0
    cpu_s: float = 0.0
    note: str = ""

    def lines(self) -> list[str]:
        """Return the result as printable lines."""

        def secs(value: float | None) -> str:
            return f"{value:.1f} s after start" if value is not None else "not reached"

        rate = ""
        if self.first_queued_s is not None and self.stopped_s > self.first_queued_s:
            per_s = self.queued / (self.stopped_s - self.first_queued_s)
            rate = f", {per_s:.0f} files/s after the first"
        return [
            f"scan [{self.label}]: {self.files} files in {SUBFOLDERS} subfolders",
            f"  daemon ready (project resolved): {secs(self.ready_s)}",
            f"  first job queued: {secs(self.first_queued_s)}",
            f"  all {self.files} queued: {secs(self.all_queued_s)}"
            f" ({self.queued} queued{rate}; {self.done} done when stopped)",
            f"  daemon peak RSS {self.peak_rss_mib:.0f} MiB, CPU {self.cpu_s:.1f} s"
            + (f"; {self.note}" if self.note else ""),
        ]


def make_tree(root: Path, files: int, file_bytes: int = 1024) -> Path:
    """Create ``files`` random files spread over 100 subfolders; return the folder."""
    tree = root / "scan-tree"
    for index in range(files):
        folder = tree / f"day{index % SUBFOLDERS:03d}"
        if index < SUBFOLDERS:
            folder.mkdir(parents=True)
        (folder / f"clip{index:06d}.mov").write_bytes(os.urandom(file_bytes))
    os.sync()
    return tree


def run_scan(
    bench: Bench, source: WatchdSource, emulator: EmulatorProcess, tree: Path, files: int,
    timeout_s: float,
) -> ScanResult:  # fmt: skip
    """Start a daemon with a new database on ``tree``; stop it once all are queued."""
    result = ScanResult(source.label, files)
    _, root = bench.row_dir(f"scan-{source.label}")
    daemon = start_daemon(source, root, emulator.api_url, tree, "scan", bench.daemon_transfer)
    log_marker = f"folder={DAEMON_FOLDER}: project"
    try:
        while True:
            elapsed = time.perf_counter() - daemon.spawned
            if result.ready_s is None and log_marker in _head(daemon.log_path):
                result.ready_s = elapsed
            result.queued, result.done, _ = daemon.job_counts()
            if result.queued and result.first_queued_s is None:
                result.first_queued_s = elapsed
            result.stopped_s = elapsed
            if result.queued >= files:
                result.all_queued_s = elapsed
                break
            if daemon.proc.poll() is not None:
                result.note = f"the daemon exited ({daemon.proc.returncode}); see {daemon.log_path}"
                break
            if elapsed > timeout_s:
                result.note = f"stopped at the {timeout_s:.0f} s timeout"
                break
            time.sleep(POLL_S)
        result.peak_rss_mib = daemon.peak_rss_mib()
        if daemon.proc.poll() is None:
            result.cpu_s = daemon.cpu_seconds()
    finally:
        daemon.stop()
    return result


def _head(path: Path, limit: int = 256 * 1024) -> str:
    """Return the log's first bytes (the start-up lines), not the whole growing file."""
    try:
        with path.open("rb") as handle:
            return handle.read(limit).decode(errors="replace")
    except OSError:
        return ""
