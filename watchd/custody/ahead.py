"""Hashing files ahead, while they settle, so the custody check before complete finds
their digests ready instead of reading each file again while its parts go out.

The watcher offers every new version of a file it begins to settle. A version is
hashed once it has not been written for a while (by its mtime; unchanged since the
offer), on one of a few threads of this module's own; a file still being written
is offered again at each change and only its last version is hashed. A result
counts for the very file it was read from: the same device, inode, size and mtime,
the same ctime before and after the read and when taken (the ctime moves at every
write and cannot be put back), and nothing mounted or unmounted where it lives
meanwhile (a disk put back in its reader, or a clone in its place, is read again). On a
filesystem with coarse timestamps a file is read only once its ctime is two
seconds old, so a write within the same tick as the read cannot go unseen.
A result is taken once and is only ever a head start: whatever is not ready (an
offer dropped from a full queue, a result evicted, a file changed) is hashed by
the check itself, and a check that finds its file being read here waits for that
read instead of starting a second one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchd.base.fileversion import Fingerprint
from watchd.base.mounts import MOUNTS, MountWatch
from watchd.base.stop import Stopped, StopToken
from watchd.custody.hashing import hash_file

log = logging.getLogger(__name__)

THREADS = 2  # files hashed at once; the hash itself runs outside the GIL
MAX_WAITING = 1_000  # offers waiting for a thread (more are dropped: hashed at upload)
MAX_KEPT = 2_000  # results waiting for their check (the oldest go first)
IDLE_WAIT_SECONDS = 1.0
# A file not written for this long (or half its folder's settle time, if less) is
# probably complete: hashed then, long before it settles (settle is 10 s by default).
QUIET_MAX_SECONDS = 2.0
# On coarse timestamps (FAT keeps two seconds) a file is read once its ctime is this old.
COARSE_CLOCK_SECONDS = 2.0
COARSE_TICK_NS = 10_000_000  # times in multiples of this are taken for coarse ones

# What to hash for a file of a folder (None: nothing, e.g. no offload history covers it).
Plan = Callable[[str, Path, Fingerprint], "list[str] | None"]


@dataclass(frozen=True)
class _Identity:
    """What must not change between a read ahead and the check that uses it."""

    version: Fingerprint  # device included: another filesystem is another file
    ctime_ns: int
    mount: tuple[Path, int, int] | None  # the mount it is on and its generations

    @classmethod
    def of(cls, path: Path, mounts: MountWatch) -> tuple[_Identity, os.stat_result] | None:
        mount = mounts.generation(path)  # before the stat: a change after it shows later
        try:
            status = path.stat()
        except OSError:
            return None
        return cls(Fingerprint.of(status), status.st_ctime_ns, mount), status


@dataclass
class _Offer:
    folder: str
    path: Path
    version: Fingerprint
    not_before: float  # monotonic time its quiet period ends
    done: threading.Event = field(default_factory=threading.Event)  # set when its read ends


class HashesAhead:
    """A few threads hashing settling files; results taken by their custody check."""

    def __init__(
        self,
        plan: Plan,
        stop: StopToken,
        threads: int = THREADS,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        mounts: MountWatch = MOUNTS,
    ):
        self._plan = plan
        self._mounts = mounts
        self._stop = stop
        self._threads = threads
        self._wall = wall
        self._monotonic = monotonic
        self._changed = threading.Condition()  # guards the three below; told of each change
        self._waiting: OrderedDict[Path, _Offer] = OrderedDict()
        self._reading: dict[Path, _Offer] = {}
        self._kept: OrderedDict[Path, tuple[_Identity, dict[str, str]]] = OrderedDict()
        self._workers: list[threading.Thread] = []
        stop.on_stop(self._wake_all)

    def offer(self, folder: str, path: Path, version: Fingerprint, settle: float) -> None:
        """Hash this version of ``path`` once it has not been written for half of
        ``settle`` (its folder's settle time), at most QUIET_MAX_SECONDS.

        Cheap (the watcher's thread calls it): the file is not touched here.
        """
        if not self._mounts.following():
            return  # no /proc: a disk swapped in its reader would go unseen
        quiet = min(settle / 2, QUIET_MAX_SECONDS)
        written_ago = self._wall() - version.mtime_ns / 1e9
        not_before = self._monotonic() + min(quiet, max(0.0, quiet - written_ago))
        with self._changed:
            kept = self._kept.get(path)
            reading = self._reading.get(path)
            if (kept and kept[0].version == version) or (reading and reading.version == version):
                return  # hashed or being hashed already
            if path not in self._waiting and len(self._waiting) >= MAX_WAITING:
                return
            self._waiting.pop(path, None)  # a newer version: to the back, its quiet anew
            self._waiting[path] = _Offer(folder, path, version, not_before)
            self._start_workers()
            self._changed.notify()

    def take(self, path: Path, version: Fingerprint, stop: StopToken) -> dict[str, str]:
        """Return the digests computed ahead for this version of ``path`` ({} if none).

        Waits for a read of this version under way (raises Stopped); an offer of it
        not started yet is withdrawn, since the caller is about to read the file itself.
        """
        with self._changed:
            waiting = self._waiting.get(path)
            if waiting is not None and waiting.version == version:
                del self._waiting[path]
            reading = self._reading.get(path)
        if reading is not None and reading.version == version:
            while not reading.done.wait(IDLE_WAIT_SECONDS):
                stop.check()
        with self._changed:
            kept = self._kept.get(path)
            if kept is None or kept[0].version != version:
                return {}  # (another version's digests stay for its own check)
            del self._kept[path]
        identity, hashes = kept
        now = _Identity.of(path, self._mounts)
        return hashes if now is not None and now[0] == identity else {}

    def _start_workers(self) -> None:
        """Start the threads at the first offer (called with the lock held)."""
        if self._workers or self._stop.stopped:
            return
        for number in range(self._threads):
            thread = threading.Thread(target=self._work, name=f"hash-ahead-{number}", daemon=True)
            try:
                thread.start()
            except RuntimeError as exc:  # no threads left: the checks read the files themselves
                log.warning("cannot start a thread to hash settling files: %s", exc)
                return
            self._workers.append(thread)

    def _wake_all(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _work(self) -> None:
        while True:
            offer = self._next()
            if offer is None:
                return
            try:
                self._hash(offer)
            except Stopped:
                return
            except Exception:  # only a head start: the check before complete reads the file
                log.debug("hashing ahead failed: file=%s", offer.path, exc_info=True)
            finally:
                with self._changed:
                    self._reading.pop(offer.path, None)
                    self._changed.notify_all()  # a newer version of it may be due
                offer.done.set()

    def _next(self) -> _Offer | None:
        """Wait for an offer whose quiet period is over; None once stopped."""
        with self._changed:
            while not self._stop.stopped:
                now = self._monotonic()
                ready = [o for o in self._waiting.values() if o.path not in self._reading]
                due = next((o for o in ready if o.not_before <= now), None)
                if due is not None:
                    del self._waiting[due.path]
                    self._reading[due.path] = due
                    return due
                soonest = min((o.not_before for o in ready), default=now + IDLE_WAIT_SECONDS)
                self._changed.wait(min(max(0.01, soonest - now), IDLE_WAIT_SECONDS))
        return None

    def _hash(self, offer: _Offer) -> None:
        before = _Identity.of(offer.path, self._mounts)
        if before is None or before[0].version != offer.version:
            return  # written again since: its new version is offered too
        identity, status = before
        ctime_age = self._wall() - status.st_ctime_ns / 1e9
        if _coarse_times(status) and ctime_age < COARSE_CLOCK_SECONDS:
            self._again(offer, COARSE_CLOCK_SECONDS - max(0.0, ctime_age))
            return
        formats = self._plan(offer.folder, offer.path, offer.version)
        if not formats:
            return
        hashes = hash_file(offer.path, formats, self._stop)
        after = _Identity.of(offer.path, self._mounts)
        if after is None or after[0] != identity:
            return
        with self._changed:
            self._kept.pop(offer.path, None)
            self._kept[offer.path] = (identity, hashes)
            while len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)
        log.debug("hashed ahead: file=%s %s", offer.path, ", ".join(sorted(hashes)))

    def _again(self, offer: _Offer, seconds: float) -> None:
        """Offer ``offer`` again in ``seconds`` (unless a newer version is waiting)."""
        with self._changed:
            if offer.path not in self._waiting:
                again = dataclasses.replace(
                    offer, not_before=self._monotonic() + seconds, done=threading.Event()
                )
                self._waiting[offer.path] = again


def _coarse_times(status: os.stat_result) -> bool:
    """True on a filesystem whose times are coarse: whole seconds (FAT, HFS+, ext4 with
    small inodes) or hundredths (exFAT). Both at once by chance: once in 10^10 files."""
    return status.st_ctime_ns % COARSE_TICK_NS == 0 and status.st_mtime_ns % COARSE_TICK_NS == 0
