"""Group sync of SQLite's write-ahead log: every commit on disk before anyone acts on it.

The writers of one process take turns on one connection (``database.py``).
With ``synchronous=FULL`` each commit would sync the WAL while holding the
turn, so the writers behind it wait for the disk one by one. That connection
commits with ``synchronous=NORMAL`` instead (the WAL written, not synced):

- each commit is numbered just before it is made, under the turn, so a
  commit another connection of this process can see already has its number;
- a writer, its turn given back, waits until a sync that began after its
  commit was made has ended: one sync covers every commit made before it
  began, so writers that commit together share one;
- a reader waits the same way, when it is done, for every commit numbered
  so far (usually there is none pending): what it saw is on disk before it
  acts on it.

So, as with FULL, nothing is done on the strength of a commit that a power
cut could still undo. Only the processes that write a lot use it (the daemon,
`watchd upload`); a command's few writes keep FULL, so what one of them
commits is on disk before the daemon can see it.

The WAL is synced (fdatasync, as SQLite does) through a descriptor of our
own, opened on the file SQLite names for the connection (``PRAGMA
database_list``: the real path, symbolic links resolved) as soon as the
connection is set up, and checked on every sync to still be that file. Once
a sync fails, no further commit is made and every wait fails: the kernel may
have dropped the pages it could not write, so a later sync that succeeds
proves nothing about them.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path


class WalSyncError(OSError):
    """The write-ahead log could not be synced: commits since the last sync may be lost."""


class WalSync:
    """Numbers the commits written to one database's WAL and syncs them in groups."""

    def __init__(self, wal: Path, fsync: Callable[[int], None] = os.fdatasync):
        """Open ``wal`` (it must exist: the connection is in WAL mode); raises OSError."""
        self.path = wal
        self.fsync = fsync  # fdatasync, as SQLite's own (a test slows it down)
        self.fsyncs = 0  # how many were made
        self._numbered = 0  # commits numbered (each just before it is made)
        self._written = 0  # commits made (or failed): all up to this number are in the file
        self._durable = 0  # commits known to be on disk: all up to this number
        self._made = threading.Condition()  # told when a numbered commit has been made
        self._lock = threading.Lock()  # one sync at a time; the others wait for it
        self._failed: OSError | None = None
        self._fd = os.open(wal, os.O_RDWR | os.O_CLOEXEC)
        self._file = os.fstat(self._fd)

    @property
    def commits(self) -> int:
        """How many commits were numbered (the number of the last one)."""
        return self._numbered

    @property
    def durable(self) -> int:
        """Every commit up to this number is on disk."""
        return self._durable

    def number_commit(self) -> int:
        """Number the commit about to be made; raises WalSyncError after a failed sync.

        Called by the holder of the write turn just before COMMIT, so commits are
        numbered in the order they reach the WAL, and one is numbered before any
        other connection can see it. (A commit that then fails was numbered for
        nothing: a sync covers it anyway.)
        """
        if self._failed is not None:
            raise self._error(self._failed)
        self._numbered += 1
        return self._numbered

    def settle(self) -> None:
        """Every commit numbered was made (or failed): its frames are in the file.

        Called by the holder of the write turn right after COMMIT, whatever its
        outcome (also when interrupted just after numbering).
        """
        with self._made:
            if self._written != self._numbered:
                self._written = self._numbered
                self._made.notify_all()

    def wait_durable(self, commit: int | None = None) -> None:
        """Return once commit number ``commit`` (default: every one numbered so far) is
        on disk, syncing the WAL if no sync covers it yet; raises WalSyncError."""
        if commit is None:
            commit = self._numbered
        if self._durable >= commit:
            return
        with self._lock:
            if self._failed is not None:
                raise self._error(self._failed)
            if self._durable >= commit:
                return  # a sync begun after that commit was made ended meanwhile
            if self._fd < 0:  # (not a failure of the disk: no commit is made after close)
                raise WalSyncError(0, f"the state database {self.path} was closed")
            with self._made:  # (a reader may wait for a commit the turn's holder is making)
                self._made.wait_for(lambda: self._written >= commit)
                covered = self._written  # all made, so in the file, before the sync begins
            try:
                self._sync(covered)
            except OSError as exc:
                raise self._error(exc) from exc

    def close(self) -> None:
        """Sync what is still waiting, then let go of the file. Called with no commit being
        made (the write turn held). A wait for a later commit then fails as closed."""
        with self._lock:
            if self._fd < 0:
                return
            if self._failed is None and self._durable < self._written:
                with contextlib.suppress(OSError):  # (recorded: a later wait says so)
                    self._sync(self._written)
            os.close(self._fd)
            self._fd = -1

    def _sync(self, covered: int) -> None:
        """Sync the file (the sync lock held): commits up to ``covered`` are then on disk.
        A failure is recorded for good and raised."""
        try:
            self._check_same_file()
            self.fsync(self._fd)
        except OSError as exc:
            self._failed = exc
            raise
        self.fsyncs += 1
        self._durable = covered

    def _check_same_file(self) -> None:
        """Raise OSError unless our descriptor is still the WAL file SQLite writes."""
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (self._file.st_dev, self._file.st_ino):
            raise OSError(0, "the log file was replaced under the open database")

    def _error(self, exc: OSError) -> WalSyncError:
        return WalSyncError(
            exc.errno,
            f"the state database's log {self.path} could not be written to disk "
            f"({exc.strerror or exc}); what was committed since the last sync may be lost, "
            "and nothing more is committed until watchd is restarted",
        )
