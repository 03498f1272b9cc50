"""watchd as a subprocess of the benchmark, from a chosen checkout: the
``watchd upload`` command line, and a ``watchd run`` daemon with a config of
its own, whose state database is read (read-only) to see its jobs."""

from __future__ import annotations

import functools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from tests.bench.measure import cpu_seconds, peak_rss_mib

EMAIL = "demo@example.com"
API_KEY = "demo-api-key"
FOLDER = "Demo Production/Dailies"
DAEMON_FOLDER = "bench"  # the drop folder's name in the daemon's config
READY_TIMEOUT_S = 60.0  # the daemon resolves its folder's project within this
READY_FALLBACK_S = 5.0  # an older daemon that does not log the resolution: wait this after start
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WatchdSource:
    """A checkout whose watchd runs the watchd rows (``python -m watchd``, cwd there)."""

    label: str
    directory: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Return the environment with the checkout first on PYTHONPATH."""
        env = dict(os.environ)
        paths = [str(self.directory), *filter(None, [env.get("PYTHONPATH")])]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        """Return ``python -m watchd ARGS``."""
        return [sys.executable, "-m", "watchd", *args]

    def options(self, subcommand: str) -> frozenset[str]:
        """Return the --options that ``watchd SUBCOMMAND --help`` lists."""
        return _options(self.directory, subcommand)

    def startup_s(self) -> float:
        """Return the best of three wall times of ``watchd upload --help`` (start-up cost)."""
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(
                self.command("upload", "--help"), check=False, capture_output=True,
                cwd=self.directory, env=self.env(), timeout=120,
            )  # fmt: skip
            times.append(time.perf_counter() - started)
        return min(times)

    def revision(self) -> str:
        """Return the checkout's short commit, '+dirty' if its tree has changes."""

        def git(*args: str) -> str:
            cmd = ["git", "-C", str(self.directory), *args]
            out = subprocess.run(cmd, check=False, capture_output=True, text=True)
            return out.stdout.strip()

        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


@functools.cache
def _options(directory: Path, subcommand: str) -> frozenset[str]:
    source = WatchdSource("", directory)
    out = subprocess.run(
        source.command(subcommand, "--help"), check=False, capture_output=True, text=True,
        cwd=directory, env=source.env(), timeout=120,
    )  # fmt: skip
    return frozenset(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out.stdout))


def upload_command(
    source: WatchdSource, files: list[Path], api_url: str, state_dir: Path, batch: str,
    extra: list[str],
) -> tuple[list[str], dict[str, str]]:  # fmt: skip
    """Return the ``watchd upload`` command and its environment.

    A checkout without --state-dir keeps its state under XDG_STATE_HOME,
    which is pointed at ``state_dir`` instead; --batch is given where known.
    """
    options = source.options("upload")
    args = ["upload", *map(str, files), "--folder", FOLDER, "--email", EMAIL, "--url", api_url]
    env = source.env(WATCHD_API_KEY=API_KEY)
    if "--state-dir" in options:
        args += ["--state-dir", str(state_dir)]
    else:
        env["XDG_STATE_HOME"] = str(state_dir)
    if "--batch" in options and "--batch" not in extra:
        args += ["--batch", batch]
    return source.command(*args, *extra), env


@dataclass
class Daemon:
    """A running ``watchd run`` and where it keeps things."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    db_path: Path
    spawned: float  # time.perf_counter() just before the fork

    def wait_ready(self) -> float:
        """Wait until the drop folder's project is resolved; return seconds since spawn.

        Raises RuntimeError when the daemon exits or is not ready in time.
        """
        deadline = time.monotonic() + READY_TIMEOUT_S
        running_since: float | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"the daemon exited ({code}); see {self.log_path}")
            text = self.log_path.read_text(errors="replace")
            if f"folder={DAEMON_FOLDER}: project" in text:
                return time.perf_counter() - self.spawned
            if running_since is None and " running" in text:
                running_since = time.monotonic()
            if running_since is not None and time.monotonic() - running_since > READY_FALLBACK_S:
                return time.perf_counter() - self.spawned
            time.sleep(0.05)
        limit = f"{READY_TIMEOUT_S:.0f} s"
        raise RuntimeError(f"the daemon was not ready in {limit}; see {self.log_path}")

    def _query(self, sql: str) -> tuple[Any, ...] | None:
        if not self.db_path.exists():
            return None
        try:
            with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as conn:
                row = conn.execute(sql).fetchone()
                return tuple(row) if row is not None else None
        except sqlite3.OperationalError:
            return None  # not created yet, or busy beyond the timeout

    def job_counts(self) -> tuple[int, int, int]:
        """Return (jobs, done, failed) in the state database."""
        row = self._query(
            "SELECT count(*), coalesce(sum(state = 'done'), 0), "
            "coalesce(sum(state = 'failed'), 0) FROM jobs"
        )
        return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)

    def queue_to_done_s(self) -> float | None:
        """Return seconds from the first job's created_at to the last finished_at."""
        row = self._query("SELECT min(created_at), max(finished_at) FROM jobs")
        if not row or row[0] is None or row[1] is None:
            return None
        first, last = (datetime.fromisoformat(str(v)) for v in row)
        return (last - first).total_seconds()

    def cpu_seconds(self) -> float:
        """Return the daemon's CPU seconds so far."""
        return cpu_seconds(self.proc.pid)

    def peak_rss_mib(self) -> float:
        """Return the daemon's peak RSS (VmHWM) so far."""
        return peak_rss_mib(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM the daemon and wait (SIGKILL if it does not stop)."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)


def start_daemon(
    source: WatchdSource, root: Path, api_url: str, drop: Path, batch: str,
    transfer: dict[str, Any],
) -> Daemon:  # fmt: skip
    """Write a config under ``root`` and start ``watchd run`` on ``drop``.

    Settle and batch idle are 1 s; ``transfer`` overrides the checkout's
    defaults. With --reupload (where known), files made before the start are
    not looked up in Flow Capture's listing first, as new files never are.
    """
    root.mkdir(parents=True, exist_ok=True)
    key = root / "api_key"
    key.write_text(API_KEY + "\n")
    key.chmod(0o600)
    folder = {
        "name": DAEMON_FOLDER, "path": str(drop), "project": FOLDER, "recursive": True,
        "settle": "1s", "batch": {"name": batch, "idle": "1s"}, "after_upload": "keep",
    }  # fmt: skip
    config: dict[str, Any] = {
        "flowcapture": {"url": api_url, "email": EMAIL, "api_key_file": str(key)},
        "state_dir": str(root / "state"),
        "log": {"file": None, "level": "info"},
        "folders": [folder],
    }
    if transfer:
        config["transfer"] = transfer
    config_path = root / "watchd.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["run", "--config", str(config_path)]
    if "--reupload" in source.options("run"):
        args.append("--reupload")
    log_path = root / "daemon.log"
    with log_path.open("ab") as log:
        spawned = time.perf_counter()
        proc = subprocess.Popen(
            source.command(*args), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, cwd=source.directory, env=source.env(),
        )  # fmt: skip
    return Daemon(proc, log_path, root / "state" / "watchd.db", spawned)
