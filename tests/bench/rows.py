"""One row: one tool uploading one data set to one emulator, measured.

Every row gets the emulator's CPU and the machine's other busy CPU over the
same window as the tool's own figures.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.datasets import DataSet, offload_history
from tests.bench.emulator_proc import EmulatorProcess
from tests.bench.measure import machine_busy_seconds, run_measured, tail
from tests.bench.peer_tools import (
    Peer,
    aws_command,
    aws_env,
    clean_env,
    rclone_command,
    rclone_config,
)
from tests.bench.report import Result
from tests.bench.watchd_proc import (
    API_KEY,
    EMAIL,
    FOLDER,
    Daemon,
    WatchdSource,
    start_daemon,
    upload_command,
)
from watchd.config.limits import DEFAULT_CONNECTIONS

FLOOR_TOOL = "flow floor"  # tests/bench/flow_floor.py: the vendor's calls and nothing else
FLOOR_PART_LIMIT = 16 * 1024 * 1024  # it sends each file as one part
CUSTODY_TOOL = "daemon+mhl"  # the daemon on files with an offload history to verify
CARD = "card"  # the subfolder of the drop folder the custody rows drop into
DONE_POLL_S = 0.05  # how often the daemon's database is read while waiting for done
NOTE_CHARS_MAX = 240  # a failure's log excerpt is cut to this
CPUS = os.cpu_count() or 1


@dataclass
class Bench:
    """What every row needs: where to work, the tools and their options."""

    workdir: Path
    aws: Peer
    rclone: Peer
    upload_extra: list[str]
    daemon_transfer: dict[str, Any]
    timeout_s: float
    stall_s: float  # a daemon row fails when no job got done for this long
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def row_dir(self, tool: str) -> tuple[str, Path]:
        """Return a fresh tag and directory for one run of a row."""
        tag = f"r{next(self._ids):03d}"
        name = tool.replace(" ", "-").replace("[", "").replace("]", "")
        path = self.workdir / "rows" / f"{tag}-{name}"
        path.mkdir(parents=True)
        return tag, path


class Window:
    """The emulator's and the machine's CPU over a row's timed window."""

    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator
        self.emulator_cpu = emulator.cpu_seconds()
        self.busy = machine_busy_seconds()

    def close(self, result: Result, wall_s: float, tool_cpu_s: float) -> Result:
        """Fill in the result's times; return it."""
        result.wall_s = wall_s
        result.tool_cpu_s = tool_cpu_s
        result.emulator_cpu_s = self.emulator.cpu_seconds() - self.emulator_cpu
        other = machine_busy_seconds() - self.busy - tool_cpu_s - result.emulator_cpu_s
        result.other_cpu_pct = max(0.0, 100 * other / (wall_s * CPUS)) if wall_s else 0.0
        return result


def run_row(
    bench: Bench, tool: str, source: WatchdSource | None, emulator: EmulatorProcess, data: DataSet
) -> Result:
    """Run one tool once on ``data``; return its result (failed ones say why)."""
    result = Result(emulator.link.name, data.spec.describe(), tool, data.total_bytes)
    try:
        if tool in ("aws-cli", "rclone"):
            return _peer_row(bench, result, emulator, data)
        if tool == FLOOR_TOOL:
            return _floor_row(bench, result, emulator, data)
        assert source is not None
        if tool.startswith("watchd upload"):
            return _upload_row(bench, result, source, emulator, data)
        return _daemon_row(bench, result, source, emulator, data)
    except (OSError, RuntimeError) as exc:
        result.wall_s = None
        result.note = f"failed ({exc})"[:NOTE_CHARS_MAX]
        return result


def _peer_row(bench: Bench, result: Result, emulator: EmulatorProcess, data: DataSet) -> Result:
    peer = bench.aws if result.tool == "aws-cli" else bench.rclone
    if peer.skip:
        result.note = f"skipped ({peer.skip})"
        return result
    tag, root = bench.row_dir(result.tool)
    prefix = f"{tag}-{result.link}-{result.dataset}"
    if peer is bench.aws:
        env = aws_env(peer, bench.workdir)
        cmd = aws_command(peer, emulator.s3_url, data.directory, prefix)
    else:
        env = clean_env()
        config = rclone_config(bench.workdir, emulator.link.name, emulator.s3_url)
        cmd = rclone_command(peer, config, data.directory, prefix)
    log = root / "tool.log"
    window = Window(emulator)
    usage = run_measured(cmd, log, env, timeout_s=bench.timeout_s)
    if usage.returncode != 0:
        result.note = f"failed (exit {usage.returncode}: {tail(log)})"[:NOTE_CHARS_MAX]
        return result
    result.peak_rss_mib = usage.peak_rss_mib
    return window.close(result, usage.wall_s, usage.cpu_s)


def _floor_row(bench: Bench, result: Result, emulator: EmulatorProcess, data: DataSet) -> Result:
    """The vendor's flow from a minimal client, with as many connections as watchd's default."""
    if data.spec.file_bytes > FLOOR_PART_LIMIT:
        result.note = "skipped (files of several parts: the floor is for the per-file flow)"
        return result
    tag, root = bench.row_dir(result.tool)
    script = Path(__file__).with_name("flow_floor.py")
    cmd = [
        sys.executable, str(script), "--url", emulator.api_url, "--email", EMAIL,
        "--folder", FOLDER, "--batch", f"floor-{tag}",
        "--connections", str(DEFAULT_CONNECTIONS), *map(str, data.files),
    ]  # fmt: skip
    log = root / "floor.log"
    window = Window(emulator)
    usage = run_measured(
        cmd, log, {**clean_env(), "WATCHD_API_KEY": API_KEY}, timeout_s=bench.timeout_s
    )
    if usage.returncode != 0:
        result.note = f"failed (exit {usage.returncode}: {tail(log)})"[:NOTE_CHARS_MAX]
        return result
    result.peak_rss_mib = usage.peak_rss_mib
    result.note = "4 calls per file, no database, no retries, no tags"
    return window.close(result, usage.wall_s, usage.cpu_s)


def _upload_row(
    bench: Bench, result: Result, source: WatchdSource, emulator: EmulatorProcess, data: DataSet
) -> Result:
    tag, root = bench.row_dir(result.tool)
    cmd, env = upload_command(
        source, list(data.files), emulator.api_url, root / "state", f"bench-{tag}",
        bench.upload_extra,
    )  # fmt: skip
    log = root / "upload.log"
    window = Window(emulator)
    usage = run_measured(cmd, log, env, cwd=source.directory, timeout_s=bench.timeout_s)
    if usage.returncode != 0:
        why = "timed out" if usage.timed_out else f"exit {usage.returncode}"
        result.note = f"failed ({why}: {tail(log)})"[:NOTE_CHARS_MAX]
        return result
    result.peak_rss_mib = usage.peak_rss_mib
    return window.close(result, usage.wall_s, usage.cpu_s)


def _daemon_row(
    bench: Bench, result: Result, source: WatchdSource, emulator: EmulatorProcess, data: DataSet
) -> Result:
    tag, root = bench.row_dir(result.tool)
    drop = root / "drop"
    drop.mkdir()
    target = drop
    if result.tool.startswith(CUSTODY_TOOL):
        # The history first, as an offload tool leaves it; then the media, all at once.
        target = drop / CARD
        shutil.copytree(offload_history(data), target / "ascmhl")
    daemon = start_daemon(
        source, root, emulator.api_url, drop, f"bench-{tag}", bench.daemon_transfer
    )
    try:
        daemon.wait_ready()
        cpu_before = daemon.cpu_seconds()
        window = Window(emulator)
        started = time.perf_counter()
        for path in data.files:
            os.link(path, target / path.name)
        done, failed = _wait_done(bench, daemon, len(data.files), started)
        wall = time.perf_counter() - started
        if done < len(data.files):
            excerpt = tail(daemon.log_path, 1)[:NOTE_CHARS_MAX]
            result.note = (
                f"failed ({done}/{len(data.files)} done, {failed} failed, gave up after "
                f"{wall:.0f} s: {excerpt})"
            )
            return result
        result.peak_rss_mib = daemon.peak_rss_mib()
        window.close(result, wall, daemon.cpu_seconds() - cpu_before)
        span = daemon.queue_to_done_s()
        notes = [f"first queued to last done {span:.2f} s"] if span is not None else []
        if target is not drop:
            verified = daemon.log_path.read_text(errors="replace").count("verified: file=")
            notes.append(f"{verified}/{len(data.files)} verified against the history")
        result.note = "; ".join(notes)
        return result
    finally:
        daemon.stop()
        shutil.rmtree(drop, ignore_errors=True)


def _wait_done(bench: Bench, daemon: Daemon, wanted: int, started: float) -> tuple[int, int]:
    """Wait until ``wanted`` jobs are done, one failed, the daemon exited, or
    no job got done for ``bench.stall_s``; return (done, failed)."""
    progress_at, last_done = started, -1
    while True:
        _, done, failed = daemon.job_counts()
        now = time.perf_counter()
        if done != last_done:
            progress_at, last_done = now, done
        if done >= wanted or failed or daemon.proc.poll() is not None:
            return done, failed
        if now - started > bench.timeout_s or now - progress_at > bench.stall_s:
            return done, failed
        time.sleep(DONE_POLL_S)
