"""Group fsync of SQLite's write-ahead log: every commit on disk before its writer goes on.

The writers of one process take turns on one connection (``database.py``).
With ``synchronous=FULL`` each commit would fsync the WAL while holding the
turn, so the writers behind it wait for the disk one by one. That connection
commits with ``synchronous=NORMAL`` instead (the WAL written, not synced), and
a writer, its turn given back, waits until an fsync that began after its
commit has ended: one fsync covers every commit written before it started.
A transaction still returns only once it would survive a power cut, as with
FULL; writers that commit at the same moment share one fsync instead of
queueing for one each.

An fsync of the WAL file through a descriptor of our own flushes what
SQLite wrote through its own (the page cache is the file's, not the
descriptor's); the folder is synced too the first time, so that a WAL file
created since is not lost by its name. Once an fsync fails, every later wait
fails too: the kernel may have dropped the pages it could not write, so a
later fsync that succeeds proves nothing about them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


class WalSyncError(OSError):
    """The write-ahead log could not be synced: commits since the last sync may be lost."""


class WalSync:
    """Counts the commits written to one database's WAL and makes them durable in groups."""

    def __init__(self, wal: Path, fsync: Callable[[int], None] = os.fdatasync):
        self.path = wal
        self.fsync = fsync  # fdatasync, as SQLite's own (a test slows it down)
        self.fsyncs = 0  # how many were made
        self._written = 0  # commits written to the WAL, numbered in order
        self._durable = 0  # commits known to be on disk: all up to this number
        self._lock = threading.Lock()  # one fsync at a time; the others wait for it
        self._fd: int | None = None
        self._failed: OSError | None = None

    @property
    def commits(self) -> int:
        """How many commits were counted (the number of the last one)."""
        return self._written

    @property
    def durable(self) -> int:
        """Every commit up to this number is on disk."""
        return self._durable

    def count_commit(self) -> int:
        """Count a commit just written to the WAL; return its number.

        Called by the holder of the write turn, so commits are numbered in the
        order they reached the WAL.
        """
        self._written += 1
        return self._written

    def wait_durable(self, commit: int) -> None:
        """Return once commit number ``commit`` is on disk; raises WalSyncError."""
        if self._durable >= commit:
            return
        with self._lock:
            if self._failed is not None:
                raise WalSyncError(self._failed.errno, self._message(self._failed))
            if self._durable >= commit:
                return  # an fsync begun after that commit ended meanwhile
            covered = self._written  # every commit counted so far is in the file already
            try:
                fd = self._descriptor()
                if fd is not None:
                    self.fsync(fd)
            except OSError as exc:
                self._failed = exc
                raise WalSyncError(exc.errno, self._message(exc)) from exc
            self.fsyncs += 1
            self._durable = covered

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _descriptor(self) -> int | None:
        """Our descriptor of the WAL file, opened again if the file was replaced.

        None when there is no WAL file: the last connection to close checkpointed
        it into the database (synced) and removed it.
        """
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return None
        if self._fd is not None and os.fstat(self._fd).st_ino != on_disk.st_ino:
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            folder = os.open(self.path.parent, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(folder)  # the WAL file's name, as SQLite syncs a new journal's
            finally:
                os.close(folder)
        return self._fd

    def _message(self, exc: OSError) -> str:
        return (
            f"the state database's log {self.path} could not be written to disk "
            f"({exc.strerror or exc}); what was committed since the last sync may be lost"
        )
