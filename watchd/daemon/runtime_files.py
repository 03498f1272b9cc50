"""Files the daemon keeps in its state folder besides the database.

``watchd.lock``: held (flock) while a daemon runs, so two daemons never share
one database, and so commands can tell whether one is running.
``status.json``: what the daemon knows that the database does not (folder
health, transfers in flight), rewritten atomically every few seconds.
``node.json``: on a shared queue, this folder's daemon's registration as a
node, so that a restart after a crash takes its own work over at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from watchd.base.atomic_files import atomic_write
from watchd.store.database import make_state_dir
from watchd.store.leases import Registration

LOCK_FILENAME = "watchd.lock"
STATUS_FILENAME = "status.json"
NODE_FILENAME = "node.json"
STATUS_STALE_SECONDS = 30.0  # a status older than this means the daemon is hung or gone
STATUS_ROOM_BYTES = 16 * 1024  # blanks kept at the end of status.json for a full disk


class AlreadyRunningError(Exception):
    """Another daemon holds the state folder's lock."""


class StateFolderError(Exception):
    """The state folder cannot be created or written; the message says which and what to do."""


def state_folder_error(state_dir: Path, exc: OSError) -> StateFolderError:
    """Return the one-line failure for ``exc``, met creating or writing in ``state_dir``."""
    blocker = _file_in_the_way(state_dir)
    if blocker is not None:
        reason = f"{blocker} is a file, not a folder"
    elif exc.filename and Path(exc.filename) != state_dir:
        reason = f"{exc.strerror}: {exc.filename}"  # the lock file itself, say
    else:
        reason = exc.strerror or str(exc)
    return StateFolderError(
        f"the state folder {state_dir} is not writable ({reason}); "
        "give the watchd user write access or set state_dir"
    )


def _file_in_the_way(state_dir: Path) -> Path | None:
    """Return the nearest of ``state_dir`` and its parents that exists but is no folder."""
    for path in (state_dir, *state_dir.parents):
        if path.exists():
            return None if path.is_dir() else path
        if path.is_symlink():
            return None  # a dangling link: the OS error says it best
    return None


class DaemonLock:
    """An exclusive lock on the state folder, held for the daemon's lifetime."""

    def __init__(self, state_dir: Path):
        self.path = state_dir / LOCK_FILENAME
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises AlreadyRunningError naming the holder's pid, or StateFolderError
        when the state folder cannot be created or the lock file not written.
        """
        try:
            make_state_dir(self.path.parent)
            handle = self.path.open("a+")
        except OSError as exc:
            raise state_folder_error(self.path.parent, exc) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunningError(
                f"another watchd (pid {holder}) is running with state folder {self.path.parent}"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except OSError as exc:
            handle.close()
            raise state_folder_error(self.path.parent, exc) from None
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
    except (FileNotFoundError, NotADirectoryError):
        return None  # no daemon ever ran there (or could: the state folder is not a folder)
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def write_status(state_dir: Path, status: dict[str, Any]) -> None:
    """Replace status.json atomically (readers never see half a file).

    The file carries trailing blanks (valid JSON) as room to spare: on a full
    disk, where no new file can be made, the old file is rewritten in place,
    compact, within the blocks it already has. A status that says "disk full"
    is worth more than an atomic but stale one. Raises OSError.
    """
    path = state_dir / STATUS_FILENAME
    document = {**status, "written_at": time.time()}
    text = json.dumps(document, indent=1) + "\n"
    temp = path.with_name(f".{STATUS_FILENAME}.{os.getpid()}")
    try:
        temp.write_text(text + " " * STATUS_ROOM_BYTES)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not path.exists():
            raise
        _rewrite_in_place(path, json.dumps(document, separators=(",", ":")).encode(), exc)


def _rewrite_in_place(path: Path, compact: bytes, full: OSError) -> None:
    """Overwrite the file within its present size (no new blocks); raise ``full`` if too big."""
    size = path.stat().st_size
    if len(compact) > size:
        raise full
    with path.open("r+b") as handle:
        handle.write(compact + b" " * (size - len(compact)))


def read_status(state_dir: Path) -> dict[str, Any] | None:
    """Return the last status the daemon wrote, or None."""
    for _ in range(3):  # a rewrite in place (full disk) may be caught half done: read again
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            data = json.loads((state_dir / STATUS_FILENAME).read_text())
            return data if isinstance(data, dict) else None
        time.sleep(0.05)
    return None


def read_registration(state_dir: Path) -> Registration | None:
    """Return the node registration this state folder's last daemon made, or None."""
    try:
        data = json.loads((state_dir / NODE_FILENAME).read_text())
        return Registration(
            str(data["name"]),
            str(data["host"]),
            int(data["pid"]),
            str(data["started_at"]),
            str(data.get("boot_id", "")),
            float(data.get("booted_at", 0.0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: the lease decides, as before


def write_registration(state_dir: Path, registration: Registration) -> None:
    """Replace node.json atomically; raises OSError."""
    document = json.dumps(dataclasses.asdict(registration)) + "\n"
    atomic_write(state_dir / NODE_FILENAME, document.encode())
