"""The drop folders the daemon serves: policies, projects and watchers, kept in step with config.

A folder whose project cannot be resolved yet (the network is down at start)
is still watched; its files wait until the project resolves. Resolved ids are
cached in the state folder so a restart without network keeps uploading later.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchd.config import FolderConfig
from watchd.config.checks import write_access_problem
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import FlowCaptureError
from watchd.ingest.policy import DELETE, FolderPolicy
from watchd.ingest.projects import ProjectDirectory, ProjectResolutionError
from watchd.ingest.queueing import BatchRule, enqueue, known_version
from watchd.store.database import Database
from watchd.watch.folder_watch import FolderWatch, WatchSettings
from watchd.watch.stability import SettledFile

log = logging.getLogger(__name__)

PROJECTS_CACHE = "projects.json"


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
    )


class FolderSet:
    """Starts, stops and reconfigures one FolderWatch per configured drop folder."""

    def __init__(
        self,
        db: Database,
        client: FlowCaptureClient,
        state_dir: Path,
        on_queued: Callable[[], None],
    ):
        self.db = db
        self.client = client
        self.cache_path = state_dir / PROJECTS_CACHE
        self.on_queued = on_queued
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
        with self._lock:
            self._configs[folder.name] = folder
        self._resolve(folder)
        problem = write_access_problem(folder)
        with self._lock:
            if problem:
                self._read_only[folder.name] = problem
            else:
                self._read_only.pop(folder.name, None)
        watch = FolderWatch(watch_settings(folder), self._on_settled, self._is_known)
        with self._lock:
            self._watches[folder.name] = watch
        watch.start()
        log.info(
            "watching: folder=%s path=%s project=%s",
            folder.name,
            folder.path,
            self._project_text(folder),
        )

    def _remove(self, name: str) -> None:
        with self._lock:
            watch = self._watches.pop(name, None)
            self._configs.pop(name, None)
            self._policies.pop(name, None)
            self._unresolved.pop(name, None)
            self._read_only.pop(name, None)
        if watch is not None:
            watch.stop()
        log.info("stopped watching: folder=%s", name)

    def stop_all(self) -> None:
        for name in list(self._watches):
            watch = self._watches[name]
            watch.stop()

    # --- projects -----------------------------------------------------------------------

    def _resolve(self, folder: FolderConfig) -> None:
        try:
            project_id = self._lookup(folder)
        except (FlowCaptureError, ProjectResolutionError) as exc:
            cached = self._cached().get(folder.project or "")
            if isinstance(exc, FlowCaptureError) and exc.retryable and cached:
                log.warning("folder=%s: using cached project id %s (%s)", folder.name, cached, exc)
                project_id = int(cached)
            else:
                with self._lock:
                    self._unresolved[folder.name] = str(exc)
                log.error("folder=%s: cannot resolve project: %s; files wait", folder.name, exc)
                return
        with self._lock:
            self._policies[folder.name] = folder_policy(folder, project_id)
            self._unresolved.pop(folder.name, None)

    def _lookup(self, folder: FolderConfig) -> int:
        if folder.project_id is not None:
            return folder.project_id
        assert folder.project is not None
        project_id = ProjectDirectory(self.client).resolve(folder.project)
        self._store_cache(folder.project, project_id)
        return project_id

    def retry_unresolved(self) -> None:
        """Try again to resolve the folders whose project is not known yet."""
        with self._lock:
            pending = [self._configs[n] for n in self._unresolved if n in self._configs]
        for folder in pending:
            self._resolve(folder)

    def _cached(self) -> dict[str, Any]:
        try:
            data = json.loads(self.cache_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _store_cache(self, spec: str, project_id: int) -> None:
        cache = self._cached()
        if cache.get(spec) == project_id:
            return
        cache[spec] = project_id
        temp = self.cache_path.with_suffix(".tmp")
        temp.write_text(json.dumps(cache, indent=1))
        temp.replace(self.cache_path)

    def _project_text(self, folder: FolderConfig) -> str:
        policy = self._policies.get(folder.name)
        name = folder.project or f"id {folder.project_id}"
        return f"{name!r} (id {policy.project_id})" if policy else f"{name!r} (unresolved)"

    # --- callbacks from the watchers ----------------------------------------------------

    def _is_known(self, file: SettledFile) -> bool:
        with self.db.reading() as session:
            return known_version(session, file) is not None

    def _on_settled(self, settled: SettledFile) -> bool:
        policy = self.policies().get(settled.folder)
        if policy is None:
            return False
        rule = BatchRule(project_id=policy.project_id, template=policy.batch_template)
        job = enqueue(self.db, settled, rule, datetime.now(UTC))
        if job is not None:
            log.info(
                "queued: file=%s job=%d folder=%s batch=%r size=%d",
                settled.path,
                job.id,
                settled.folder,
                job.batch.name if job.batch else None,
                job.size,
            )
            self.on_queued()
        return True

    # --- views --------------------------------------------------------------------------

    def policies(self) -> dict[str, FolderPolicy]:
        with self._lock:
            return dict(self._policies)

    def idle_seconds(self, name: str) -> float | None:
        policy = self.policies().get(name)
        return policy.batch_idle_seconds if policy else None

    def rescan_all(self) -> None:
        with self._lock:
            watches = list(self._watches.values())
        for watch in watches:
            watch.request_rescan()

    def available(self, name: str) -> bool:
        with self._lock:
            watch = self._watches.get(name)
        return watch is not None and watch.available()

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
            if name in unresolved:
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
                }
            )
        return rows
