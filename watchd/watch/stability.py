"""The settling rule: when is a file completely written?

A file is settled when its fingerprint (device, inode, size, mtime) has not
changed for the folder's settle time across consecutive checks and, where
/proc lets us see it, no process holds it open for writing. The clock is
passed in, so tests do not sleep.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchd.base.fileversion import Fingerprint

log = logging.getLogger(__name__)

PROC_DIR = Path("/proc")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR


@dataclass(slots=True)
class _Observation:
    fingerprint: Fingerprint
    since: float  # clock time when the current wait began
    changed: float  # clock time when this fingerprint was first seen


class SettleTracker:
    """Remembers each candidate's fingerprint and says when it has settled.

    Candidates are kept in the order their current wait began, so the ones
    due for a second look are always at the front: a folder of 100,000 files
    costs each file two looks, not one per tick. The watch's thread alone changes
    it; another may read it (``pending``, ``changed_within``) under its lock, which
    each change holds too (a path moved to the back is never seen missing).
    """

    def __init__(self, settle_seconds: float, clock: Callable[[], float]):
        self.settle_seconds = settle_seconds
        self._clock = clock
        self._seen: dict[str, _Observation] = {}
        self._lock = threading.Lock()

    def observe(self, path: str, fingerprint: Fingerprint) -> bool:
        """Record a check of ``path``; return True once it has been unchanged long enough."""
        now = self._clock()
        seen = self._seen.get(path)
        if seen is None or seen.fingerprint != fingerprint:
            with self._lock:
                self._seen.pop(path, None)  # to the back: its wait begins now
                self._seen[path] = _Observation(fingerprint, now, now)
            return False  # settled needs two consecutive checks that agree
        return now - seen.since >= self.settle_seconds

    def restart(self, path: str) -> None:
        """Start the wait again (the file turned out to be open for writing)."""
        with self._lock:
            seen = self._seen.pop(path, None)
            if seen is not None:
                seen.since = self._clock()
                self._seen[path] = seen

    def due(self) -> list[str]:
        """Return the paths whose wait is over (they need their second look), oldest first."""
        now = self._clock()
        found = []
        for path, seen in self._seen.items():
            if now - seen.since < self.settle_seconds:
                break
            found.append(path)
        return found

    def forget(self, path: str) -> None:
        """Stop tracking ``path`` (queued, gone, or filtered out)."""
        with self._lock:
            self._seen.pop(path, None)

    def pending(self) -> list[str]:
        """Return the paths still settling."""
        with self._lock:
            return list(self._seen)

    def changed_within(self, seconds: float) -> list[str]:
        """Return the paths still settling whose size or time changed in the last
        ``seconds`` (a file held open without a change for longer is not counted)."""
        since = self._clock() - seconds
        with self._lock:
            return [path for path, seen in self._seen.items() if seen.changed >= since]

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, path: object) -> bool:
        return path in self._seen


def open_for_writing(
    paths: Iterable[str], proc_dir: Path = PROC_DIR, *, resolved: bool = False
) -> set[str]:
    """Return those of ``paths`` that some process we may inspect has open for writing.

    Reads /proc/PID/fd links and fdinfo flags; processes we may not inspect
    (other users' when not root) are skipped, so this can miss writers but
    never invents them. Returns an empty set where /proc does not exist.
    ``resolved``: the paths are real already (no symlink in them), so they are
    not resolved again (a big saving for many files).
    """
    wanted = {p if resolved else os.path.realpath(p): p for p in paths}
    found: set[str] = set()
    if not wanted or not proc_dir.is_dir():
        return found
    for pid_dir in _process_dirs(proc_dir):
        for fd_link, target in _open_files(pid_dir):
            original = wanted.get(target)
            if original is not None and original not in found and _is_write_fd(pid_dir, fd_link):
                found.add(original)
    return found


def _process_dirs(proc_dir: Path) -> Iterable[Path]:
    try:
        entries = list(os.scandir(proc_dir))
    except OSError:
        return []
    return [Path(e.path) for e in entries if e.name.isdigit()]


def _open_files(pid_dir: Path) -> Iterable[tuple[str, str]]:
    fd_dir = pid_dir / "fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:  # the process ended, or it is not ours to look at
        return []
    links = []
    for name in names:
        try:
            links.append((name, os.readlink(fd_dir / name)))
        except OSError:
            continue
    return links


def _is_write_fd(pid_dir: Path, fd: str) -> bool:
    try:
        text = (pid_dir / "fdinfo" / fd).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags:"):
            return bool(int(line.split()[1], 8) & _WRITE_FLAGS)
    return False
