"""Turning a settled file into a job, and putting it in its batch.

A file whose fingerprint already has a job (queued, in flight, done or failed)
is not queued again, also after a restart. Each job gets its asset uuid here,
once, and keeps it across retries and restarts.
"""

from __future__ import annotations

import logging
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from watchd.config.templates import BatchNameValues, render_batch_name
from watchd.store.database import Database
from watchd.store.models import Batch, BatchState, Job, JobState
from watchd.watch.stability import SettledFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchRule:
    """How a drop folder names and groups its batches."""

    project_id: int
    template: str


def known_version(session: Session, file: SettledFile) -> Job | None:
    """Return a job (not cancelled) for this version of this file, if there is one.

    The same version is the same inode with the same size and mtime (renamed
    or moved within the folder included), or the same path in the same folder
    with the same size and mtime (a share mounted again, with new inode or
    device numbers). The device number is not compared: remounts change it.
    """
    fp = file.fingerprint
    same_inode = and_(Job.inode == fp.inode, Job.size == fp.size, Job.mtime_ns == fp.mtime_ns)
    same_path = and_(
        Job.folder == file.folder,
        Job.relpath == file.relpath,
        Job.size == fp.size,
        Job.mtime_ns == fp.mtime_ns,
    )
    return session.scalars(
        select(Job).where(or_(same_inode, same_path), Job.state != JobState.CANCELLED).limit(1)
    ).first()


def enqueue(db: Database, file: SettledFile, rule: BatchRule, now: datetime) -> Job | None:
    """Queue ``file`` in its batch; return the new job, or None if already known."""
    with db.transaction() as session:
        if known_version(session, file) is not None:
            return None
        batch = join_batch(session, file, rule, now)
        job = Job(
            folder=file.folder,
            path=str(file.path),
            relpath=file.relpath,
            filename=file.path.name,
            device=file.fingerprint.device,
            inode=file.fingerprint.inode,
            size=file.fingerprint.size,
            mtime_ns=file.fingerprint.mtime_ns,
            state=JobState.QUEUED,
            attempts=0,
            uuid=str(uuid.uuid4()),
            project_id=rule.project_id,
            batch=batch,
            created_at=now,
            updated_at=now,
        )
        session.add(job)
        session.flush()
        return job


def join_batch(session: Session, file: SettledFile, rule: BatchRule, now: datetime) -> Batch:
    """Return the open batch the file belongs in (opening one if needed) and stamp it."""
    name = render_batch_name(
        rule.template,
        BatchNameValues(
            folder=file.folder,
            subdir=_subdir(file.relpath),
            date=now.astimezone(),
            host=socket.gethostname().split(".")[0],
        ),
    )
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
    return batch


def _subdir(relpath: str) -> str:
    parts = relpath.split("/")
    return parts[0] if len(parts) > 1 else ""
