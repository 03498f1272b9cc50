"""Turning a settled file into a job, and putting it in its batch.

A file whose fingerprint already has a job (queued, in flight, done or failed,
or cancelled by an operator) is not queued again, also after a restart or a
reload. A version the daemon cancelled itself (it changed or vanished) may be
queued again. Each job gets its asset uuid here, once, and keeps it across
retries and restarts (unless the service refuses it; see ``upload_step.py``).
"""

from __future__ import annotations

import functools
import logging
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, joinedload

from watchd.base.fileversion import SettledFile, drop_root
from watchd.base.names import display_name, is_plain
from watchd.config.templates import BatchNameValues, render_batch_name
from watchd.store.database import Database
from watchd.store.models import TERMINAL_JOB_STATES, Batch, BatchState, Job, JobState
from watchd.store.queries import lock_folder_queue, same_version
from watchd.store.transitions import move_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchRule:
    """How a drop folder names and groups its batches."""

    project_id: int
    template: str


def known_version(session: Session, file: SettledFile) -> Job | None:
    """Return the job that stands for this version of this file, if there is one.

    See :func:`watchd.store.queries.same_version` for what "this version" means.
    """
    counts = or_(Job.state != JobState.CANCELLED, Job.operator_cancelled_at.is_not(None))
    return session.scalars(select(Job).where(same_version(file), counts).limit(1)).first()


def known_versions(session: Session, files: list[SettledFile]) -> dict[str, Job]:
    """Return, by path, the job standing for each of ``files`` that has one (few queries).

    The same rules as :func:`known_version`, for a batch of files.
    """
    if not files:
        return {}
    counts = or_(Job.state != JobState.CANCELLED, Job.operator_cancelled_at.is_not(None))
    inodes = {f.fingerprint.inode for f in files}
    rows = list(session.scalars(select(Job).where(counts, Job.inode.in_(inodes))))
    for folder in {f.folder for f in files}:
        relpaths = {f.relpath for f in files if f.folder == folder}
        rows += session.scalars(
            select(Job).where(counts, Job.folder == folder, Job.relpath.in_(relpaths))
        )
    by_inode: dict[tuple[int, int, int], list[Job]] = {}
    by_path: dict[tuple[str, str, int, int], Job] = {}
    for job in rows:
        by_inode.setdefault((job.inode, job.size, job.mtime_ns), []).append(job)
        by_path.setdefault((job.folder, job.relpath, job.size, job.mtime_ns), job)
    found = {}
    for file in files:
        fp = file.fingerprint
        moved = (j for j in by_inode.get((fp.inode, fp.size, fp.mtime_ns), ()) if _here(j, file))
        match = next(moved, None) or by_path.get((file.folder, file.relpath, fp.size, fp.mtime_ns))
        if match is not None:
            found[str(file.path)] = match
    return found


def _here(job: Job, file: SettledFile) -> bool:
    """Is ``job`` of the drop folder ``file`` is in (by name, or by directory)?"""
    return job.folder == file.folder or (
        file.root is not None and drop_root(job.path, job.relpath) == file.root
    )


def follow_rename(session: Session, job: Job, file: SettledFile) -> bool:
    """If ``job`` (not finished) is ``file`` under its old name, move it to the new one.

    Returns True when it followed. Until the upload has begun, Flow Capture gets
    the new name; an upload under way keeps the name it started with (its
    parts are kept: nothing is sent twice).
    """
    if job.state in TERMINAL_JOB_STATES or job.path == str(file.path):
        return False
    if job.inode != file.fingerprint.inode:
        return False
    old = job.path
    job.path, job.relpath = str(file.path), file.relpath
    if job.upload_id is None:
        job.filename = display_name(file.path.name)
    log.info(
        "renamed: file=%s to=%s job=%d%s",
        old,
        file.path,
        job.id,
        ""
        if job.upload_id is None
        else f"; it goes up under the name it started with, {job.filename!r}",
    )
    return True


def enqueue(db: Database, file: SettledFile, rule: BatchRule, now: datetime) -> Job | None:
    """Queue ``file`` in its batch; return the new job, or None if already known."""
    with db.transaction() as session:
        queued = queue_in(session, [file], rule, now)[0]
        if queued is None:
            return None
        return session.get_one(Job, queued.job_id, options=[joinedload(Job.batch)])


@dataclass(frozen=True)
class Queued:
    """A job just made for a settled file."""

    job_id: int
    batch: str | None
    size: int


def queue_in(
    session: Session, files: list[SettledFile], rule: BatchRule, now: datetime
) -> list[Queued | None]:
    """Queue ``files`` in their batches within ``session``'s transaction.

    Returns what was queued for each file, None where its version was known
    already. Many files queued together cost one look-up, one insert and one
    commit: a scan of 100,000 files queues hundreds a second.
    """
    batches: dict[str, Batch] = {}
    for folder in sorted({file.folder for file in files}):
        lock_folder_queue(session, folder)
    known = known_versions(session, files)
    fresh, rows = [], []
    for file in files:
        if str(file.path) in known:
            continue
        batch = join_batch(session, file, rule, now, batches)
        if not is_plain(file.path.name):
            log.warning(
                "odd name: file=%s goes up to Flow Capture as %r (its name holds bytes that "
                "are not UTF-8 or control characters)",
                file.path,
                display_name(file.path.name),
            )
        fresh.append((file, batch))
    session.flush()  # the batches opened just now get their ids
    for file, batch in fresh:
        rows.append(_job_row(file, rule, batch.id, now))
    ids = (
        list(session.scalars(insert(Job).returning(Job.id, sort_by_parameter_order=True), rows))
        if rows
        else []
    )
    made = {
        str(file.path): Queued(job_id, batch.name, file.fingerprint.size)
        for (file, batch), job_id in zip(fresh, ids, strict=True)
    }
    return [made.get(str(file.path)) for file in files]


def record_known_asset(
    db: Database, file: SettledFile, rule: BatchRule, now: datetime, asset_id: int
) -> int | None:
    """Record ``file`` as done without uploading it: Flow Capture has it as ``asset_id``.

    Returns the new job's id, or None if this version was known already.
    """
    with db.transaction() as session:
        if known_version(session, file) is not None:
            return None
        job = _new_job(file, rule, None, now)
        session.add(job)
        session.flush()
        job_id = job.id
        move_job(
            session, job_id, JobState.DONE, allowed=(JobState.QUEUED,), now=now, asset_id=asset_id
        )
        return job_id


def _job_row(
    file: SettledFile, rule: BatchRule, batch_id: int | None, now: datetime
) -> dict[str, Any]:
    """Return the columns of a new job for ``file`` (queued, its uuid fixed now)."""
    return {
        "folder": file.folder,
        "path": str(file.path),
        "relpath": file.relpath,
        "filename": display_name(file.path.name),
        "device": file.fingerprint.device,
        "inode": file.fingerprint.inode,
        "size": file.fingerprint.size,
        "mtime_ns": file.fingerprint.mtime_ns,
        "attempts": 0,
        "uuid": str(uuid.uuid4()),
        "project_id": rule.project_id,
        "batch_id": batch_id,
        "created_at": now,
        "updated_at": now,
    }


def _new_job(file: SettledFile, rule: BatchRule, batch: Batch | None, now: datetime) -> Job:
    return Job(**_job_row(file, rule, None, now), batch=batch)


def join_batch(
    session: Session,
    file: SettledFile,
    rule: BatchRule,
    now: datetime,
    seen: dict[str, Batch] | None = None,
) -> Batch:
    """Return the open batch the file belongs in (opening one if needed) and stamp it.

    ``seen`` remembers batches already found in this transaction, by name.
    On a shared PostgreSQL queue the folder's lock makes the look-up and the
    opening one step across nodes (a batch closing meanwhile waits for it).
    """
    name = batch_name(rule.template, file.folder, file.relpath, now)
    if seen is not None and name in seen:
        return seen[name]
    lock_folder_queue(session, file.folder)
    batch = session.scalars(
        select(Batch).where(
            Batch.folder == file.folder,
            Batch.project_id == rule.project_id,
            Batch.name == name,
            Batch.state == BatchState.OPEN,
        )
    ).first()
    if batch is None:
        batch = Batch(
            folder=file.folder,
            project_id=rule.project_id,
            name=name,
            state=BatchState.OPEN,
            opened_at=now,
            last_file_at=now,
            attempts=0,
        )
        session.add(batch)
        log.info("batch opened: folder=%s batch=%r project=%s", file.folder, name, rule.project_id)
    else:
        batch.last_file_at = now
    if seen is not None:
        seen[name] = batch
    return batch


def batch_name(template: str, folder: str, relpath: str, now: datetime) -> str:
    """The name of the batch a file at ``relpath`` of ``folder`` joins at ``now``."""
    subdir, date = _subdir(relpath), now.astimezone()
    return render_batch_name(template, BatchNameValues(folder, subdir, date, _host()))


def batch_names(template: str, folder: str, relpaths: list[str], now: datetime) -> dict[str, str]:
    """The batches files at ``relpaths`` of ``folder`` would join at ``now``, each with one
    of its files (the name is worked out once per subfolder, however many files)."""
    by_subdir = {_subdir(relpath): relpath for relpath in relpaths}
    return {batch_name(template, folder, path, now): path for path in by_subdir.values()}


@functools.lru_cache(maxsize=1)
def _host() -> str:
    """The machine's short name, for {host} in batch names."""
    return socket.gethostname().split(".")[0]


def _subdir(relpath: str) -> str:
    parts = relpath.split("/")
    return parts[0] if len(parts) > 1 else ""
