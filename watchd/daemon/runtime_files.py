"""Files the daemon keeps in its state folder besides the database.

``watchd.lock``: held (flock) while a daemon runs, so two daemons never share
one database, and so commands can tell whether one is running.
``status.json``: what the daemon knows that the database does not (folder
health, transfers in flight), rewritten atomically every few seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO, Any

LOCK_FILENAME = "watchd.lock"
STATUS_FILENAME = "status.json"
STATUS_STALE_SECONDS = 30.0  # a status older than this means the daemon is hung or gone


class AlreadyRunningError(Exception):
    """Another daemon holds the state folder's lock."""


class DaemonLock:
    """An exclusive lock on the state folder, held for the daemon's lifetime."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / LOCK_FILENAME
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock; raises AlreadyRunningError naming the holder's pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunningError(
                f"another watchd (pid {holder}) is running with state folder {self.path.parent}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def daemon_pid(state_dir: Path) -> int | None:
    """Return the pid of the daemon holding the lock, or None if none runs."""
    path = state_dir / LOCK_FILENAME
    try:
        handle = path.open("r")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def write_status(state_dir: Path, status: dict[str, Any]) -> None:
    """Replace status.json atomically (readers never see half a file)."""
    path = state_dir / STATUS_FILENAME
    temp = path.with_name(f".{STATUS_FILENAME}.{os.getpid()}")
    temp.write_text(json.dumps({**status, "written_at": time.time()}, indent=1))
    os.replace(temp, path)


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """Return the last status the daemon wrote, or None."""
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        data = json.loads((state_dir / STATUS_FILENAME).read_text())
        return data if isinstance(data, dict) else None
    return None
