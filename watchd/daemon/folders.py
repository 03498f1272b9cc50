"""The drop folders the daemon serves: policies and watchers, kept in step with config.

Projects are resolved off the main thread (:meth:`FolderSet.resolve_pending`,
run by the scheduler), so a reload never waits on the network. A folder whose
project is not resolved yet is still watched; its files wait until it is.

Several nodes on one PostgreSQL queue may list the same shared folder: each
folder is then watched by the one node holding its lease (store/leases.py),
taken and renewed by :meth:`FolderSet.hold_leases`; the others stand by and
take it over when that node stops. Every node listing a folder runs its jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from watchd.base.clock import SYSTEM_CLOCK, Clock
from watchd.base.fileversion import SettledFile
from watchd.base.names import printable
from watchd.base.stop import StopToken
from watchd.config import FolderConfig
from watchd.config.checks import write_access_problem
from watchd.flowcapture.errors import FlowCaptureError
from watchd.ingest.known_assets import KnownAssets
from watchd.ingest.policy import DELETE, FolderPolicy
from watchd.ingest.projects import ProjectResolutionError, ProjectResolver
from watchd.ingest.queueing import (
    BatchRule,
    batch_names,
    follow_rename,
    known_versions,
    queue_in,
    record_known_asset,
)
from watchd.store.database import Database
from watchd.store.leases import Claims, LocalClaims
from watchd.store.models import ACTIVE_JOB_STATES, Job, JobState
from watchd.store.transitions import move_jobs
from watchd.watch.folder_watch import (
    TICK_SECONDS,
    FolderWatch,
    QueueUnavailable,
    Seen,
    WatchSettings,
)
from watchd.watch.mounts import network_mount_note

log = logging.getLogger(__name__)

PROJECTS_CACHE = "projects.json"  # resolved project ids, kept in the state folder
UNRESOLVED_YET = "not resolved yet"
STANDBY = "watched by another node"


def watch_settings(folder: FolderConfig) -> WatchSettings:
    return WatchSettings(
        name=folder.name,
        root=folder.path,
        recursive=folder.recursive,
        include=tuple(folder.include),
        exclude=tuple(folder.exclude),
        poll=folder.poll,
        poll_interval_seconds=folder.poll_interval,
        settle_seconds=folder.settle,
    )


def project_label(folder: FolderConfig) -> str:
    """How logs name a folder's Flow Capture folder before it is resolved."""
    if folder.project is not None:
        return folder.project
    return f"id {folder.project_id}" if folder.project_id is not None else "the API key's folder"


def folder_policy(folder: FolderConfig, project_id: int) -> FolderPolicy:
    action = folder.after_upload
    return FolderPolicy(
        name=folder.name,
        root=folder.path,
        project_id=project_id,
        batch_template=folder.batch.name,
        batch_idle_seconds=folder.batch.idle,
        tags=tuple(folder.metadata.tags),
        fields=dict(folder.metadata.fields),
        from_path=folder.metadata.from_path,
        after_upload=DELETE if action.action == "delete" else "keep",
        move_to=action.move_to if action.action == "move" else None,
        verify=folder.verify,
        receipt=folder.receipt.where,
        receipt_dir=folder.receipt.dir,
        allow_unverified_delete=folder.allow_unverified_delete,
    )


class FolderSet:
    """Starts, stops and reconfigures one FolderWatch per configured drop folder."""

    def __init__(
        self,
        db: Database,
        projects: ProjectResolver,
        on_queued: Callable[[], None],
        stop: StopToken,
        clock: Clock = SYSTEM_CLOCK,
        known_assets: KnownAssets | None = None,
        store_problem: Callable[[Exception | None], None] = lambda _error: None,
        claims: Claims | None = None,
    ):
        self.db = db
        self.claims = claims or LocalClaims(db)
        # Told of files that begin to settle (set by the daemon: they are hashed ahead).
        self.on_seen: Seen | None = None
        self.projects = projects
        self.on_queued = on_queued
        self.stop = stop
        self.clock = clock
        # With a new database: files older than this run are looked for in Flow Capture first.
        self.known_assets = known_assets
        self.started_ns = time.time_ns()
        self.store_problem = store_problem  # told when queueing cannot write the database
        self._retired: list[FolderWatch] = []  # removed watches whose threads may still end
        # Removed folders' rules, kept so their uploads in flight finish and batches close.
        self._removed_policies: dict[str, FolderPolicy] = {}
        self._lock = threading.Lock()
        self._configs: dict[str, FolderConfig] = {}
        self._watches: dict[str, FolderWatch] = {}
        self._policies: dict[str, FolderPolicy] = {}
        self._unresolved: dict[str, str] = {}  # folder -> why its project is not known
        self._read_only: dict[str, str] = {}  # folder -> why its post-upload action cannot run

    # --- configuration ----------------------------------------------------------------

    def apply(self, folders: list[FolderConfig]) -> None:
        """Make the running folders match ``folders`` (start, stop or restart watchers)."""
        wanted = {f.name: f for f in folders}
        for name in [n for n in self._configs if n not in wanted or wanted[n] != self._configs[n]]:
            self._remove(name)
        for name, folder in wanted.items():
            if name not in self._configs:
                self._add(folder)

    def _add(self, folder: FolderConfig) -> None:
        problem = write_access_problem(folder)
        with self._lock:
            self._configs[folder.name] = folder
            self._removed_policies.pop(folder.name, None)
            self._unresolved[folder.name] = UNRESOLVED_YET
            if problem:
                self._read_only[folder.name] = problem
            else:
                self._read_only.pop(folder.name, None)
        if folder.project_id is not None:
            self._resolve(folder)  # nothing to look up
        if self.claims.shared:
            log.info(
                "serving: folder=%s path=%s project=%s (watched by the node holding its lease)",
                folder.name,
                folder.path,
                project_label(folder),
            )
            return
        self._watch(folder)

    def _watch(self, folder: FolderConfig) -> None:
        watch = FolderWatch(
            watch_settings(folder),
            self._on_settled,
            self._is_known,
            self.clock.monotonic,
            self.stop,
            self.on_seen,
        )
        with self._lock:
            self._watches[folder.name] = watch
        watch.start()
        log.info(
            "watching: folder=%s path=%s project=%s",
            folder.name,
            folder.path,
            project_label(folder),
        )
        note = network_mount_note(folder.name, folder.path, folder.poll)
        if note is not None:
            log.warning(note)

    def _unwatch(self, name: str) -> FolderWatch | None:
        with self._lock:
            watch = self._watches.pop(name, None)
            if watch is not None:
                self._retired.append(watch)
        if watch is not None:
            watch.request_stop()  # its thread ends within a tick; never waited for here
        return watch

    def hold_leases(self) -> None:
        """Shared queue: watch the folders whose lease this node holds, and only those."""
        if not self.claims.shared or self.stop.stopped:
            return
        with self._lock:
            configs = dict(self._configs)
        held = self.claims.hold_folders({n: str(f.path) for n, f in configs.items()})
        for name, folder in configs.items():
            with self._lock:
                watching = name in self._watches
            if name in held and not watching:
                log.info("folder lease taken: folder=%s; this node watches it now", name)
                self._watch(folder)
            elif name not in held and watching:
                self._unwatch(name)
                log.warning("folder lease lost: folder=%s; another node watches it now", name)

    def _remove(self, name: str) -> None:
        with self._lock:
            # On a shared queue only the node holding the folder's lease serves it: another
            # node's edit or removal must not cancel the files that node queued (its
            # watcher, which knows them, would never queue them again).
            serving = name in self._watches or not self.claims.shared
            self._configs.pop(name, None)
            policy = self._policies.pop(name, None)
            if policy is not None and serving:
                self._removed_policies[name] = policy
            self._unresolved.pop(name, None)
            self._read_only.pop(name, None)
        self._unwatch(name)
        if not serving:
            log.info("stopped serving: folder=%s (another node watches it)", name)
            return
        dropped = self._cancel_unstarted(name)
        log.info(
            "stopped watching: folder=%s; uploads under way finish and open batches close, "
            "%d file(s) not started are cancelled (queued again if the folder comes back)",
            name,
            dropped,
        )

    def _cancel_unstarted(self, name: str) -> int:
        """Cancel (not sticky) the removed folder's files whose upload has not begun."""
        with self.db.transaction() as session:
            return move_jobs(
                session,
                JobState.CANCELLED,
                allowed=(JobState.QUEUED, JobState.WAITING),
                now=self.clock.now(),
                where=(Job.folder == name) & Job.upload_id.is_(None) & Job.uploaded_at.is_(None),
                last_error=f"its drop folder {name!r} was removed from the configuration",
            )

    def left_out_at_start(self) -> None:
        """Deal with files of drop folders taken out of the config while the daemon was
        down, as a reload does with a folder taken out (see ``_remove``) where it can.

        Those not started are cancelled (queued again if the folder comes back). Those
        begun stay as they are, and their batch open: without the folder's rules (its
        tags, what to do with the source) they cannot be finished well. Said once, with
        what to do. Not on a shared queue: another node may serve such a folder.
        """
        with self._lock:
            configured = set(self._configs)
        with self.db.reading() as session:
            rows = session.execute(
                select(Job.folder, func.count(Job.id))
                .where(Job.state.in_(ACTIVE_JOB_STATES), Job.folder.not_in(configured))
                .group_by(Job.folder)
            )
            left = {folder: count for folder, count in rows}
        for name, count in sorted(left.items()):
            cancelled = self._cancel_unstarted(name)
            said = []
            if cancelled:
                said.append(
                    f"{cancelled} file(s) not started are cancelled (queued again if it comes back)"
                )
            if count > cancelled:
                said.append(
                    f"{count - cancelled} begun stay as they are, their batch open, until it "
                    f"is put back under that name (`watchd jobs --folder {name}` lists them)"
                )
            log.warning("folder %s is no longer in the configuration: %s", name, "; ".join(said))

    def threads(self) -> list[threading.Thread]:
        """The watcher threads (current and removed), for joining against the stop deadline."""
        with self._lock:
            watches = [*self._watches.values(), *self._retired]
            self._retired = [w for w in self._retired if w.thread.is_alive()]
        return [w.thread for w in watches]

    # --- projects -----------------------------------------------------------------------

    def resolve_pending(self) -> None:
        """Resolve the folders whose project is not known yet (runs off the main thread)."""
        with self._lock:
            pending = [self._configs[n] for n in self._unresolved if n in self._configs]
        for folder in pending:
            if self.stop.stopped:
                return
            self._resolve(folder)

    def _resolve(self, folder: FolderConfig) -> None:
        try:
            project_id = self.projects.resolve(folder.project, folder.project_id)
        except (FlowCaptureError, ProjectResolutionError) as exc:
            with self._lock:
                if self._configs.get(folder.name) != folder:
                    return  # removed or changed meanwhile
                before = self._unresolved.get(folder.name)
                self._unresolved[folder.name] = str(exc)
            if before != str(exc):
                log.error("folder=%s: cannot resolve project: %s; files wait", folder.name, exc)
            return
        with self._lock:
            if self._configs.get(folder.name) != folder:
                return
            self._policies[folder.name] = folder_policy(folder, project_id)
            self._unresolved.pop(folder.name, None)
        log.info(
            "folder=%s: project %r is id %s",
            folder.name,
            project_label(folder),
            project_id,
        )

    # --- callbacks from the watchers ----------------------------------------------------

    def _is_known(self, files: list[SettledFile]) -> set[str]:
        """The paths of ``files`` whose version has a job (one folder's files).

        A job of the same file under an old name follows it to the new one.
        """
        try:
            with self.db.reading() as session:
                known = known_versions(session, files)
            renamed = [
                (file, known[str(file.path)])
                for file in files
                if str(file.path) in known
                and (known[str(file.path)].folder, known[str(file.path)].relpath)
                != (file.folder, file.relpath)
            ]
            if renamed:
                with self.db.transaction() as session:
                    for file, job in renamed:
                        row = session.get(Job, job.id)
                        if row is not None:
                            follow_rename(session, row, file)
        except SQLAlchemyError as exc:
            self.store_problem(exc)
            raise QueueUnavailable(f"the state database failed: {exc}") from exc
        return set(known)

    def _on_settled(self, files: list[SettledFile]) -> set[str]:
        """Queue the settled ``files`` (one folder's); return the paths taken."""
        if not files:
            return set()
        folder = files[0].folder
        policy = self.policies().get(folder)
        if policy is None:
            return set()  # its project is not resolved yet: the files wait
        with self._lock:
            config = self._configs.get(folder)
        rule = BatchRule(project_id=policy.project_id, template=policy.batch_template)
        taken, to_queue = set(), []
        try:
            for file in files:
                if file.fingerprint.size == 0 and config is not None and not config.upload_empty:
                    log.info(
                        "skipped (empty): file=%s folder=%s; it goes up if it grows "
                        "(upload_empty: true uploads empty files)",
                        file.path,
                        folder,
                    )
                    taken.add(str(file.path))
                elif self._already_there(file, rule):
                    taken.add(str(file.path))
                else:
                    to_queue.append(file)
            with self.db.transaction() as session:
                jobs = queue_in(session, to_queue, rule, self.clock.now())
                queued = [
                    (file, job.job_id, job.batch, job.size)
                    for file, job in zip(to_queue, jobs, strict=True)
                    if job is not None
                ]
        except SQLAlchemyError as exc:
            self.store_problem(exc)
            raise QueueUnavailable(f"the state database failed: {exc}") from exc
        except FlowCaptureError as exc:
            log.warning(
                "cannot look for files in Flow Capture (%s); folder=%s waits, so nothing is "
                "uploaded twice",
                exc,
                folder,
            )
            return taken
        taken.update(str(file.path) for file in to_queue)
        if queued:
            self.store_problem(None)  # rows were written: the database takes writes again
            for file, job_id, batch, size in queued:
                log.info(
                    "queued: file=%s job=%d folder=%s batch=%r size=%d",
                    file.path,
                    job_id,
                    folder,
                    batch,
                    size,
                )
            self.on_queued()
        return taken

    def _already_there(self, settled: SettledFile, rule: BatchRule) -> bool:
        """With a new database: True (recorded as done) if Flow Capture has this file."""
        if self.known_assets is None or settled.fingerprint.mtime_ns >= self.started_ns:
            return False
        fp = settled.fingerprint
        asset = self.known_assets.find(rule.project_id, settled.path.name, fp.size)
        if asset is None:
            return False
        job_id = record_known_asset(self.db, settled, rule, self.clock.now(), asset.id)
        if job_id is not None:
            log.info(
                "already in Flow Capture, not uploaded again: file=%s job=%d asset=%d "
                "(the state database was new; `watchd run --reupload` uploads such files)",
                settled.path,
                job_id,
                asset.id,
            )
        return True

    # --- views --------------------------------------------------------------------------

    def policies(self) -> dict[str, FolderPolicy]:
        """The rules of the folders being served: configured ones, and removed ones whose
        uploads in flight and open batches still finish."""
        with self._lock:
            return {**self._removed_policies, **self._policies}

    def arriving(self, name: str) -> dict[str, str]:
        """The batches that files still being written in folder ``name`` would join now,
        each with one such file: their batch waits for them (batches.py). A file that
        has not changed for longer than the idle and settle times together (a stalled
        copy, a file held open) holds none."""
        with self._lock:
            watch = self._watches.get(name)
            policy = self._policies.get(name)
        if watch is None or policy is None:
            return {}
        settle = watch.settings.settle_seconds
        writing = watch.being_written(policy.batch_idle_seconds + settle + TICK_SECONDS)
        return batch_names(policy.batch_template, name, writing, self.clock.now())

    def rescan_all(self) -> None:
        with self._lock:
            watches = list(self._watches.values())
        for watch in watches:
            watch.request_rescan()

    def available(self, name: str) -> bool:
        with self._lock:
            watch = self._watches.get(name)
            folder = self._configs.get(name)
            removed = self._removed_policies.get(name) if folder is None else None
        if watch is None and folder is not None and self.claims.shared:
            return folder.path.is_dir()  # watched by another node: look for it here
        if removed is not None:  # taken out of the config, its uploads under way finishing
            return removed.root.is_dir()  # (else its files would wait for it for ever)
        return watch is not None and watch.available()

    def watched(self, name: str) -> bool:
        """True when this node watches the folder (and so closes its batches)."""
        with self._lock:
            return name in self._watches or name in self._removed_policies

    def status(self) -> list[dict[str, Any]]:
        """Return each folder's health and counts for status.json."""
        rows = []
        with self._lock:
            items = [(n, self._configs[n], self._watches.get(n)) for n in self._configs]
            unresolved = dict(self._unresolved)
            read_only = dict(self._read_only)
            policies = dict(self._policies)
        for name, folder, watch in items:
            health = watch.status.health.value if watch else "stopped"
            message = watch.status.message if watch else ""
            if watch is None and self.claims.shared:
                health, message = "ok", STANDBY
            if name in unresolved and unresolved[name] != UNRESOLVED_YET:
                health, message = "project-unresolved", unresolved[name]
            elif health == "ok" and name in read_only:
                health, message = "read-only", read_only[name]
            rows.append(
                {
                    "name": name,
                    "path": str(folder.path),
                    "project": folder.project or None,
                    "project_id": policies[name].project_id if name in policies else None,
                    "health": health,
                    "message": message,
                    "settling": watch.status.settling if watch else 0,
                    "problems": [
                        {"file": printable(path), "reason": reason}
                        for path, reason in sorted(
                            dict(watch.status.problems if watch else {}).items()
                        )
                    ],
                }
            )
        return rows


def _file_problems(watch: FolderWatch | None) -> list[dict[str, str]]:
    """The files a folder cannot take, for status (a copy: the folder's thread edits them)."""
    problems = dict(watch.status.problems) if watch else {}
    return [{"file": printable(p), "reason": r} for p, r in sorted(problems.items())]
