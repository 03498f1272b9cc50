"""Hashing files ahead, while they settle, so the custody check before complete finds
their digests ready instead of reading each file again while its parts go out.

The watcher offers every new version of a file it begins to settle. A version is
hashed once it has not been written for a while (by its mtime; unchanged since the
offer), on one of a few threads of this module's own; a file still being written
is offered again at each change and only its last version is hashed. A result
counts for the very file it was read from: the same device, inode, size and mtime,
the same ctime before and after the read and when taken (the ctime moves at every
write and cannot be put back), the same mount (base/file_identity.py: a card put
back in its reader, or a clone in its place, is read again; without unique mount
ids, before Linux 6.8, nothing is read ahead). A file is read once its ctime has
been the same for a grace (20 ms; 2 s on coarse timestamps), so that a write
during or after the read cannot land in the same clock tick as the last one.
A result is taken once and is only ever a head start: whatever is not ready (an
offer dropped from a full queue, a result evicted, a file changed) is hashed by
the check itself, and a check that finds its file being read here waits for that
read instead of starting a second one.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchd.base.file_identity import FileIdentity, identity
from watchd.base.fileversion import Fingerprint
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
# A file is read once its ctime has been the same this long: a write after that shows
# in the ctime even where the kernel moves it once a clock tick (a few ms; before
# Linux 6.13), or once a second or two (FAT, HFS+, ext4 with small inodes).
GRACE_SECONDS = 0.02
COARSE_GRACE_SECONDS = 2.0
COARSE_TICK_NS = 10_000_000  # times in multiples of this (both) are taken for coarse ones

# What to hash for a file of a folder (None: nothing, e.g. no offload history covers it).
Plan = Callable[[str, Path, Fingerprint], "list[str] | None"]
Identify = Callable[[Path], "FileIdentity | None"]


@dataclass
class _Offer:
    folder: str
    path: Path
    version: Fingerprint
    not_before: float  # monotonic time its quiet period ends
    done: threading.Event = field(default_factory=threading.Event)  # set when its read ends
    stable: tuple[int, float] | None = None  # (ctime, monotonic time it was first seen)
    withdrawn: bool = False  # its check came while it was being looked at


class HashesAhead:
    """A few threads hashing settling files; results taken by their custody check."""

    def __init__(
        self,
        plan: Plan,
        stop: StopToken,
        threads: int = THREADS,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        identify: Identify = identity,
    ):
        self._plan = plan
        self._stop = stop
        self._threads = threads
        self._wall = wall
        self._monotonic = monotonic
        self._identify = identify
        self._enabled: bool | None = None  # known at the first offer
        self._changed = threading.Condition()  # guards the three below; told of each change
        self._waiting: OrderedDict[Path, _Offer] = OrderedDict()
        self._reading: dict[Path, _Offer] = {}
        self._kept: OrderedDict[Path, tuple[FileIdentity, dict[str, str]]] = OrderedDict()
        self._workers: list[threading.Thread] = []
        stop.on_stop(self._wake_all)

    def offer(self, folder: str, path: Path, version: Fingerprint, settle: float) -> None:
        """Hash this version of ``path`` once it has not been written for half of
        ``settle`` (its folder's settle time), at most QUIET_MAX_SECONDS.

        Cheap (the watcher's thread calls it): the file is not touched here.
        """
        if self._enabled is None:
            # Without unique mount ids (before Linux 6.8) a card put back in its reader
            # could not be told from the one that was read: no head start there.
            self._enabled = self._identify(Path("/")) is not None
        if not self._enabled:
            return
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

    def ready(self, path: Path, version: Fingerprint, formats: tuple[str, ...]) -> bool:
        """True if this version of ``path`` was hashed in ``formats`` and is still the file
        that was read (a check now needs no read of its own)."""
        with self._changed:
            kept = self._kept.get(path)
        if kept is None or kept[0].version != version or not set(formats) <= kept[1].keys():
            return False
        return self._identify(path) == kept[0]

    def take(self, path: Path, version: Fingerprint, stop: StopToken) -> dict[str, str]:
        """Return the digests computed ahead for this version of ``path`` ({} if none).

        Waits for a read of this version under way (raises Stopped); an offer of it
        not read yet is withdrawn, since the caller is about to read the file itself.
        """
        with self._changed:
            waiting = self._waiting.get(path)
            if waiting is not None and waiting.version == version:
                del self._waiting[path]
            reading = self._reading.get(path)
            if reading is not None and reading.version == version:
                reading.withdrawn = True  # not offered again if it is not read now
        if reading is not None and reading.version == version:
            while not reading.done.wait(IDLE_WAIT_SECONDS):
                stop.check()
        with self._changed:
            kept = self._kept.get(path)
            if kept is None or kept[0].version != version:
                return {}  # (another version's digests stay for its own check)
            del self._kept[path]
        read_from, hashes = kept
        return hashes if self._identify(path) == read_from else {}

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
        before = self._identify(offer.path)
        if before is None or before.version != offer.version:
            return  # written again since: its new version is offered too
        wait = self._grace_left(offer, before)
        if wait > 0:
            self._again(offer, wait)
            return
        formats = self._plan(offer.folder, offer.path, offer.version)
        if not formats:
            return
        hashes = hash_file(offer.path, formats, self._stop)
        if self._identify(offer.path) != before:
            return
        with self._changed:
            self._kept.pop(offer.path, None)
            self._kept[offer.path] = (before, hashes)
            while len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)
        log.debug("hashed ahead: file=%s %s", offer.path, ", ".join(sorted(hashes)))

    def _grace_left(self, offer: _Offer, now: FileIdentity) -> float:
        """Return how long to wait before reading: 0 once its ctime has been the same
        for its grace, by the wall clock (a ctime not in the future) or, counted from
        the first look that saw it, by the monotonic one (whatever the clocks say)."""
        coarse = now.ctime_ns % COARSE_TICK_NS == 0 and now.version.mtime_ns % COARSE_TICK_NS == 0
        grace = COARSE_GRACE_SECONDS if coarse else GRACE_SECONDS
        age = self._wall() - now.ctime_ns / 1e9
        if age >= 0 and grace <= age:
            return 0.0
        if offer.stable is None or offer.stable[0] != now.ctime_ns:
            offer.stable = (now.ctime_ns, self._monotonic())
        return max(0.0, grace - (self._monotonic() - offer.stable[1]))

    def _again(self, offer: _Offer, seconds: float) -> None:
        """Look at ``offer`` again in ``seconds``, unless a newer version is waiting or its
        check came meanwhile."""
        with self._changed:
            if offer.path not in self._waiting and not offer.withdrawn:
                again = dataclasses.replace(
                    offer, not_before=self._monotonic() + seconds, done=threading.Event()
                )
                self._waiting[offer.path] = again
