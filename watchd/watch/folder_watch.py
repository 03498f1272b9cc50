"""Watching one drop folder: events and rescans in, settled files out.

Everything about a folder happens on its own thread, so the settle state needs
no locks: watchdog's threads only drop paths into a bounded hint set (an
overflow turns into a full rescan), and the scheduler only asks for rescans.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.observers.api import BaseObserver

from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.base.stop import Stopped, StopToken
from watchd.watch.filters import PathFilter
from watchd.watch.health import FolderHealth, check_root, is_mount_point
from watchd.watch.observer import (
    INOTIFY_LIMIT_HINT,
    WatchLimitError,
    start_observer,
    stop_observer,
)
from watchd.watch.scanner import Candidate, resolve_candidate, scan
from watchd.watch.stability import SettleTracker, open_for_writing

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0  # how often settling files are looked at
MAX_HINTS = 10_000  # queued event paths; beyond this a full rescan replaces them
QUEUE_RETRY_SECONDS = 5.0  # how long to wait when settled files cannot be queued
SCAN_CHUNK = 500  # files looked up or handed over together (one database round trip)
SCAN_AHEAD = 100_000  # a scan waits while this many files settle (memory of a huge folder)
SETTLE_ROUND = 5_000  # files given their second look together (one look at /proc)


@dataclass(frozen=True)
class WatchSettings:
    """How one drop folder is watched."""

    name: str
    root: Path
    recursive: bool = True
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    poll: bool = False
    poll_interval_seconds: float = 5.0
    settle_seconds: float = 10.0


class QueueUnavailable(Exception):
    """Settled files cannot be taken now (the database failed): the scan stops, to run again."""


@dataclass
class FolderStatus:
    """What `watchd status` shows for a folder."""

    health: FolderHealth = FolderHealth.OK
    message: str = ""
    settling: int = 0
    last_scan_files: int = 0
    skipped: set[str] = field(default_factory=set)  # paths left out (logged once each)
    queued: int = 0  # files handed over since the watch started
    problems: dict[str, str] = field(default_factory=dict)  # path -> why it cannot be taken


# Given files, return the paths (str) of those taken (on_settled) or known (is_known).
Files = Callable[[list[SettledFile]], set[str]]
# Told of the new versions of files that begin to settle (with the folder's settle time).
Seen = Callable[[list[SettledFile], float], None]


class FolderWatch:
    """Finds settled files in one drop folder and hands them to ``on_settled``.

    Both callbacks take files in batches (a scan of 100,000 files is a few
    hundred database round trips, not 200,000) and return the paths they
    took or know. A file ``on_settled`` did not take (the folder's project is
    not resolved yet) waits another settle period. A full scan hands over
    files while it is still walking.
    """

    def __init__(
        self,
        settings: WatchSettings,
        on_settled: Files,
        is_known: Files,
        clock: Callable[[], float] = time.monotonic,
        stop: StopToken | None = None,
        on_seen: Seen | None = None,
    ):
        self.settings = settings
        self.root = settings.root.resolve()
        self.on_settled = on_settled
        self.is_known = is_known
        self.on_seen = on_seen
        self.filter = PathFilter(settings.include, settings.exclude)
        self.tracker = SettleTracker(settings.settle_seconds, clock)
        self._clock = clock
        self.status = FolderStatus()
        self._handled: dict[str, Fingerprint] = {}  # path -> version already queued or known
        self._scan_problems: dict[str, str] | None = None  # problems found by the scan running
        self._hints: set[str] = set()
        self._hint_lock = threading.Lock()
        self._rescan = threading.Event()
        self._stop = stop.child() if stop is not None else StopToken()
        self._observer: BaseObserver | None = None
        self._was_mount = False
        self.thread = threading.Thread(
            target=self._loop, name=f"watch:{settings.name}", daemon=True
        )

    # --- called from other threads ------------------------------------------------------

    def start(self) -> None:
        self._rescan.set()
        self.thread.start()

    def request_stop(self) -> None:
        """Ask the folder's thread to stop (it ends within a tick); does not wait."""
        self._stop.stop("the folder is no longer watched")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and wait up to ``timeout`` for the folder's thread to end."""
        self.request_stop()
        self.thread.join(timeout)

    def request_rescan(self) -> None:
        self._rescan.set()

    def available(self) -> bool:
        """True while the folder is present, so a file missing from it really is gone.

        Looks at the folder now rather than trusting the last tick's health.
        """
        health, _ = check_root(self.root, was_mount=self._was_mount)
        return health == FolderHealth.OK

    def _hint(self, path: str) -> None:
        with self._hint_lock:
            if len(self._hints) >= MAX_HINTS:
                self._rescan.set()
                return
            self._hints.add(path)

    def _gone(self, path: str) -> None:
        self._hint(path)  # looked at on the folder thread, which finds it missing

    # --- the folder's own thread --------------------------------------------------------

    def _loop(self) -> None:
        queue_down = False
        while not self._stop.stopped:
            try:
                self._step()
                queue_down = False
            except Stopped:
                break
            except QueueUnavailable as exc:
                if not queue_down:  # the daemon reports the database itself; say it once here
                    log.warning("folder=%s: files wait: %s", self.settings.name, exc)
                queue_down = True
                self._rescan.set()  # what the failed scan did not take is looked at again
                self._stop.wait(QUEUE_RETRY_SECONDS)
            except Exception:
                log.exception("folder=%s: watching failed; trying again", self.settings.name)
                self._stop.wait(5)
            self._stop.wait(TICK_SECONDS)
        stop_observer(self._observer)

    def _step(self) -> None:
        if not self._check_health():
            return
        self._ensure_observer()
        if self._rescan.is_set():
            self._rescan.clear()
            self._full_scan()
        with self._hint_lock:
            hints, self._hints = self._hints, set()
        candidates = []
        for path in hints:
            try:
                candidate = self._candidate_for_hint(Path(path))
            except OSError as exc:  # e.g. its folder cannot be read: the other hints go on
                self._skip(Path(path), f"cannot read it: {exc.strerror or exc}", True)
                continue
            if candidate is not None:
                candidates.append(candidate)
        self._consider_many(candidates)
        self._settle_pending()
        self.status.settling = len(self.tracker)

    def being_written(self, within: float) -> list[str]:
        """Return the settling files that changed in the last ``within`` seconds, as
        paths below the root."""
        cut = len(os.path.join(str(self.root), ""))  # (tracked paths are below the root)
        return [path[cut:] for path in self.tracker.changed_within(within)]

    def _check_health(self) -> bool:
        health, message = check_root(self.root, was_mount=self._was_mount)
        if health == FolderHealth.OK and self.status.health in (
            FolderHealth.WATCH_LIMIT,
            FolderHealth.OBSERVER_DIED,
        ):
            return True  # still usable; those states are handled by _ensure_observer
        if health != self.status.health:
            self._set_health(health, message)
            if health == FolderHealth.OK:
                self._rescan.set()  # it is back: look at everything again
        if health != FolderHealth.OK:
            stop_observer(self._observer)
            self._observer = None
            return False
        if not self._was_mount:
            self._was_mount = is_mount_point(self.root)
        return True

    def _set_health(self, health: FolderHealth, message: str) -> None:
        previous = self.status.health
        self.status.health, self.status.message = health, message
        if health == FolderHealth.OK:
            log.info("folder healthy again: folder=%s (was %s)", self.settings.name, previous)
        else:
            log.error(
                "folder unhealthy: folder=%s health=%s: %s; other folders carry on",
                self.settings.name,
                health,
                message,
            )

    def _ensure_observer(self) -> None:
        if self._observer is not None and self._observer.is_alive():
            return
        if self._observer is not None:
            self._set_health(FolderHealth.OBSERVER_DIED, "the event observer stopped; restarting")
            stop_observer(self._observer)
            self._observer = None
            self._rescan.set()
        try:
            self._observer = start_observer(
                self.root,
                recursive=self.settings.recursive,
                poll=self.settings.poll,
                poll_interval_seconds=self.settings.poll_interval_seconds,
                on_path=self._hint,
                on_gone=self._gone,
            )
        except WatchLimitError as exc:
            if self.status.health != FolderHealth.WATCH_LIMIT:
                self._set_health(FolderHealth.WATCH_LIMIT, f"{exc.strerror}; {INOTIFY_LIMIT_HINT}")
            return
        if self.status.health != FolderHealth.OK:
            self._set_health(FolderHealth.OK, "")

    def _full_scan(self) -> None:
        """Look at every file, handing over settled ones while the walk goes on.

        One file that cannot be taken costs only itself.
        """
        started = self._clock()
        count, settled_before = 0, self.status.queued
        self._scan_problems = {}
        chunk: list[Candidate] = []
        last_settle = started
        for candidate in scan(
            self.root,
            recursive=self.settings.recursive,
            path_filter=self.filter,
            on_skip=self._skip,
        ):
            self._stop.check()  # a stop ends a long scan at once
            count += 1
            chunk.append(candidate)
            if len(chunk) >= SCAN_CHUNK:
                self._consider_many(chunk)
                chunk = []
            if self._clock() - last_settle >= TICK_SECONDS:
                self._settle_pending()  # the first files go up while the walk goes on
                last_settle = self._clock()
            while len(self.tracker) >= SCAN_AHEAD:  # far ahead of the queue: let it catch up
                self._stop.wait(TICK_SECONDS / 4)
                self._stop.check()
                self._settle_pending()
                last_settle = self._clock()
        self._consider_many(chunk)
        self.status.problems, self._scan_problems = self._scan_problems, None
        self.status.last_scan_files = count
        log.info(
            "scan: folder=%s files=%d settling=%d queued=%d problems=%d in %.1fs",
            self.settings.name,
            count,
            len(self.tracker),
            self.status.queued - settled_before,
            len(self.status.problems),
            self._clock() - started,
        )

    def _one_by_one(
        self, candidates: list[Candidate], step: Callable[[list[Candidate]], None]
    ) -> None:
        """Run ``step`` on all; if it fails, on each alone, so a bad file costs only itself."""
        try:
            step(candidates)
        except (QueueUnavailable, Stopped):
            raise
        except Exception:  # noqa: BLE001 - whatever one file does, the others go on
            if len(candidates) == 1:
                self._cannot_take(candidates[0])
                return
        else:
            return
        for candidate in candidates:
            try:
                step([candidate])
            except (QueueUnavailable, Stopped):
                raise
            except Exception:  # noqa: BLE001 - this file's own problem, shown in status
                self._cannot_take(candidate)

    def _cannot_take(self, candidate: Candidate) -> None:
        path = candidate.path
        first = str(path) not in self.status.problems
        error = sys.exc_info()[1]
        self._skip(path, f"cannot be taken: {type(error).__name__}: {error}", True)
        if first:
            log.exception("folder=%s: file=%s could not be taken", self.settings.name, path)

    def _skip(self, path: Path, reason: str, problem: bool) -> None:
        """Note a path left out: logged once; a problem shows in status until it is gone."""
        key = str(path)
        if problem:
            self.status.problems[key] = reason
            if self._scan_problems is not None:
                self._scan_problems[key] = reason
        if key not in self.status.skipped:
            self.status.skipped.add(key)
            level = logging.ERROR if problem else logging.WARNING
            log.log(level, "skipped: file=%s folder=%s: %s", path, self.settings.name, reason)

    def _candidate_for_hint(self, path: Path) -> Candidate | None:
        if not self.settings.recursive and path.parent != self.root:
            return None
        candidate = resolve_candidate(self.root, path, self.filter, self._skip)
        if candidate is None:
            self._drop(str(path))
            if not os.path.lexists(path):
                self.status.problems.pop(str(path), None)  # gone: no longer a problem
        return candidate

    def _consider_many(self, candidates: list[Candidate]) -> None:
        """Start settling the new versions among ``candidates`` (known ones are left alone)."""
        fresh = []
        for candidate in candidates:
            handled = self._handled.get(str(candidate.path))
            if handled is None or not handled.same_version(Fingerprint.of(candidate.stat)):
                fresh.append(candidate)
        if fresh:
            self._one_by_one(fresh, self._look_up)

    def _look_up(self, candidates: list[Candidate]) -> None:
        files = [self._settled(c) for c in candidates]
        known = self.is_known(files)
        for file in files:
            key = str(file.path)
            if key in known:
                self._handled[key] = file.fingerprint
                self.tracker.forget(key)
            else:
                self.tracker.observe(key, file.fingerprint)
        settling = [file for file in files if str(file.path) not in known]
        if self.on_seen is not None and settling:
            try:
                self.on_seen(settling, self.settings.settle_seconds)
            except Exception:  # a head start only: settling goes on without it
                log.exception("folder=%s: telling of settling files failed", self.settings.name)

    def _settled(self, candidate: Candidate) -> SettledFile:
        fingerprint = Fingerprint.of(candidate.stat)
        return SettledFile(self.settings.name, candidate.path, candidate.relpath, fingerprint)

    def _drop(self, path: str) -> None:
        if path in self.tracker:
            log.info("disappeared while settling: file=%s folder=%s", path, self.settings.name)
        self.tracker.forget(path)
        self._handled.pop(path, None)

    def _settle_pending(self) -> None:
        """Take a second look at the files whose wait is over; hand over the settled ones.

        In rounds of SETTLE_ROUND: the files of a huge folder come due together,
        and each second look is an object of its own until it is handed over.
        """
        due = self.tracker.due()
        for start in range(0, len(due), SETTLE_ROUND):
            self._settle_some(due[start : start + SETTLE_ROUND])

    def _settle_some(self, due: list[str]) -> None:
        ready: dict[str, Candidate] = {}
        for key in due:
            candidate = self._looked_at_again(key)
            if candidate is None:
                self._drop(key)
                continue
            if self.tracker.observe(key, Fingerprint.of(candidate.stat)):
                ready[key] = candidate
        if not ready:
            return
        busy = open_for_writing(ready, resolved=True)
        settled = []
        for key, candidate in ready.items():
            if key in busy:
                log.debug("still open for writing: file=%s", key)
                self.tracker.restart(key)
            else:
                settled.append(candidate)
        for start in range(0, len(settled), SCAN_CHUNK):
            self._one_by_one(settled[start : start + SCAN_CHUNK], self._hand_over)

    def _looked_at_again(self, key: str) -> Candidate | None:
        """Return a settling file as it is now (None if it is gone or no longer a file).

        Its name passed the filters already, and a settling path is the file itself
        (a symlink was resolved when it was first seen): a stat is all it takes.
        """
        path = Path(key)
        try:
            status = path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(status.st_mode):
            return None
        return Candidate(path=path, relpath=path.relative_to(self.root).as_posix(), stat=status)

    def _hand_over(self, candidates: list[Candidate]) -> None:
        taken = self.on_settled([self._settled(c) for c in candidates])
        for candidate in candidates:
            key = str(candidate.path)
            if key in taken:
                self._handled[key] = Fingerprint.of(candidate.stat)
                self.tracker.forget(key)
                self.status.queued += 1
            else:
                self.tracker.restart(key)
