"""Hashing files ahead, while they settle, so the custody check before complete finds
their digests ready instead of reading each file again while its parts go out.

The watcher offers every new version of a file it begins to settle. A version is
hashed once it has not been written for a while (by its mtime), on one of a few
threads of this module's own; a file still being written is offered again at each
change and only its last version is hashed. A result counts for the version it
was read from (same inode, size and mtime, and the same ctime before and after the
read and when taken) and is taken once. It is only ever a head start: whatever is
not ready (an offer dropped from a full queue, a result evicted, a file changed)
is hashed by the check itself, and a check that finds its file being hashed here
waits for that read instead of starting a second one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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

# What to hash for a file of a folder (None: nothing, e.g. no offload history covers it).
Plan = Callable[[str, Path, Fingerprint], "list[str] | None"]


@dataclass
class _Offer:
    folder: str
    path: Path
    fingerprint: Fingerprint
    not_before: float  # monotonic time its quiet period ends
    done: threading.Event = field(default_factory=threading.Event)  # set when hashed or dropped


class HashesAhead:
    """A few threads hashing settling files; results taken by their custody check."""

    def __init__(
        self,
        plan: Plan,
        stop: StopToken,
        threads: int = THREADS,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._plan = plan
        self._stop = stop
        self._threads = threads
        self._wall = wall
        self._monotonic = monotonic
        self._lock = threading.Condition()
        self._waiting: OrderedDict[Path, _Offer] = OrderedDict()
        self._reading: dict[Path, _Offer] = {}
        # path -> (version, its ctime when read, digests)
        self._kept: OrderedDict[Path, tuple[Fingerprint, int, dict[str, str]]] = OrderedDict()
        self._workers: list[threading.Thread] = []
        stop.on_stop(self._wake_all)

    def offer(self, folder: str, path: Path, fingerprint: Fingerprint, settle: float) -> None:
        """Hash this version of ``path`` once it has not been written for half of
        ``settle`` (its folder's settle time), at most QUIET_MAX_SECONDS.

        Cheap (the watcher's thread calls it): the file is not touched here.
        """
        quiet = min(settle / 2, QUIET_MAX_SECONDS)
        written_ago = self._wall() - fingerprint.mtime_ns / 1e9
        not_before = self._monotonic() + min(quiet, max(0.0, quiet - written_ago))
        with self._lock:
            kept = self._kept.get(path)
            reading = self._reading.get(path)
            for known in (kept[0] if kept else None, reading.fingerprint if reading else None):
                if known is not None and known.same_version(fingerprint):
                    return  # hashed or being hashed already
            if path not in self._waiting and len(self._waiting) >= MAX_WAITING:
                return
            self._waiting.pop(path, None)  # a newer version: to the back, its quiet anew
            self._waiting[path] = _Offer(folder, path, fingerprint, not_before)
            self._start_workers()
            self._lock.notify()

    def take(self, path: Path, fingerprint: Fingerprint, stop: StopToken) -> dict[str, str]:
        """Return the digests computed ahead for this version of ``path`` ({} if none).

        Waits for a read of this version under way (raises Stopped); an offer of it
        not started yet is withdrawn, since the caller is about to read the file itself.
        """
        with self._lock:
            waiting = self._waiting.get(path)
            if waiting is not None and waiting.fingerprint.same_version(fingerprint):
                del self._waiting[path]
            reading = self._reading.get(path)
        if reading is not None and reading.fingerprint.same_version(fingerprint):
            while not reading.done.wait(IDLE_WAIT_SECONDS):
                stop.check()
        with self._lock:
            kept = self._kept.get(path)
            if kept is None or not kept[0].same_version(fingerprint):
                return {}  # (another version's digests stay for its own check)
            del self._kept[path]
        version, changed_at, hashes = kept
        return hashes if _change_time(path, version) == changed_at else {}

    def _start_workers(self) -> None:
        """Start the threads at the first offer (called with the lock held)."""
        if self._workers or self._stop.stopped:
            return
        for number in range(self._threads):
            thread = threading.Thread(target=self._work, name=f"hash-ahead-{number}", daemon=True)
            self._workers.append(thread)
            thread.start()

    def _wake_all(self) -> None:
        with self._lock:
            self._lock.notify_all()

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
                with self._lock:
                    self._reading.pop(offer.path, None)
                offer.done.set()

    def _next(self) -> _Offer | None:
        """Wait for an offer whose quiet period is over; None once stopped."""
        with self._lock:
            while not self._stop.stopped:
                now = self._monotonic()
                due = next(
                    (
                        o
                        for o in self._waiting.values()
                        if o.not_before <= now and o.path not in self._reading
                    ),
                    None,
                )
                if due is not None:
                    del self._waiting[due.path]
                    self._reading[due.path] = due
                    return due
                soonest = min((o.not_before for o in self._waiting.values()), default=None)
                wait = IDLE_WAIT_SECONDS if soonest is None else max(0.01, soonest - now)
                self._lock.wait(min(wait, IDLE_WAIT_SECONDS))
        return None

    def _hash(self, offer: _Offer) -> None:
        before = _change_time(offer.path, offer.fingerprint)
        if before is None:
            return  # written again since: its new version is offered too
        formats = self._plan(offer.folder, offer.path, offer.fingerprint)
        if not formats:
            return
        hashes = hash_file(offer.path, formats, self._stop)
        if _change_time(offer.path, offer.fingerprint) != before:
            return
        with self._lock:
            self._kept.pop(offer.path, None)
            self._kept[offer.path] = (offer.fingerprint, before, hashes)
            while len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)
        log.debug("hashed ahead: file=%s %s", offer.path, ", ".join(sorted(hashes)))


def _change_time(path: Path, fingerprint: Fingerprint) -> int | None:
    """Return ``path``'s ctime if it still is this version (None if not, or gone).

    The ctime moves at every write and cannot be set back, unlike the mtime: a
    file rewritten in place with its size and mtime restored is not taken for
    the version that was hashed.
    """
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ctime_ns if Fingerprint.of(status).same_version(fingerprint) else None
