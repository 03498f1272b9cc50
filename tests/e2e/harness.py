"""Running the real `watchd run` process against the in-process emulator."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from watchd.emulator import Emulator

DEMO_EMAIL = "demo@example.com"
DEMO_API_KEY = "demo-api-key"


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Return predicate()'s first truthy value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


class Site:
    """A machine's worth of watchd: config, drop folders, state, and the daemon process."""

    def __init__(
        self, root: Path, emulator: Emulator, email: str = DEMO_EMAIL, api_key: str = DEMO_API_KEY
    ):
        self.root = root
        self.emulator = emulator
        self.email = email
        self.state = root / "state"
        self.key_file = root / "api_key"
        self.key_file.write_text(api_key + "\n")
        self.key_file.chmod(0o600)
        self.config_path = root / "watchd.yaml"
        self.log_path = root / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.folders: list[dict[str, Any]] = []
        self.transfer: dict[str, Any] = {"part_size": "5MiB", "parallel_files": 2}
        self.retry: dict[str, Any] = {
            "max_attempts": 8,
            "backoff_initial": "1s",
            "backoff_max": "2s",
        }

    def add_folder(self, name: str = "dailies", **settings: Any) -> Path:
        path = self.root / name
        path.mkdir(exist_ok=True)
        folder = {
            "name": name,
            "path": str(path),
            "project": "Demo Production/Dailies",
            "settle": "1s",
            "batch": {"name": "{subdir}", "idle": "1s"},
        }
        folder.update(settings)
        self.folders.append(folder)
        return path

    def write_config(self) -> None:
        config = {
            "flowcapture": {
                "url": self.emulator.api_url,
                "email": self.email,
                "api_key_file": str(self.key_file),
            },
            "state_dir": str(self.state),
            "log": {"level": "debug"},
            "transfer": self.transfer,
            "retry": self.retry,
            "scan": {"rescan_interval": "2s"},
            "folders": self.folders,
        }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    # --- the daemon process ----------------------------------------------------------------

    def start(
        self, failpoints: str = "", env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        self.write_config()
        env = {**os.environ, "WATCHD_FAILPOINTS": failpoints, **(env or {})}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watchd", "run", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        return self.process

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM the daemon and return its exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # --- what happened ------------------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        db = self.state / "watchd.db"
        if not db.exists():
            return []
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            conn.row_factory = sqlite3.Row
            try:
                return [dict(r) for r in conn.execute("SELECT * FROM jobs ORDER BY id")]
            except sqlite3.OperationalError:
                return []

    def committed_parts(self, job_id: int) -> list[int]:
        """The part numbers whose ETag the daemon has written down for a job."""
        db = self.state / "watchd.db"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            rows = conn.execute(
                "SELECT number FROM parts WHERE job_id = ? AND etag IS NOT NULL ORDER BY number",
                (job_id,),
            )
            return [number for (number,) in rows]

    def upload_begun(self, what: str = "the upload started") -> None:
        """Wait until the first job's multipart upload exists."""
        wait_until(lambda: (jobs := self.jobs()) and jobs[0]["upload_id"], 30, what)

    def states(self) -> list[str]:
        return [j["state"] for j in self.jobs()]

    def all_done(self, count: int) -> bool:
        states = self.states()
        return len(states) == count and all(s == "done" for s in states)

    def snapshot(self) -> dict[str, Any]:
        return self.emulator.snapshot()

    def visible_assets(self) -> list[dict[str, Any]]:
        return [a for a in self.snapshot()["assets"] if a.get("visible")]


MIB = 1024 * 1024


def watchd(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``watchd`` command as a user would (a process of its own); never raises on exit."""
    return subprocess.run(
        [sys.executable, "-m", "watchd", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def multipart_etag(data: bytes, part_size: int = 5 * MIB) -> str:
    """The ETag S3 gives an object uploaded in parts of ``part_size``."""
    digests = [
        hashlib.md5(data[i : i + part_size]).digest()
        for i in range(0, max(len(data), 1), part_size)
    ]
    return f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"'


def write_file(path: Path, size: int) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = os.urandom(size)
    temp = path.with_name(path.name + ".part")  # producers write, then rename into place
    temp.write_bytes(data)
    temp.rename(path)
    return data
