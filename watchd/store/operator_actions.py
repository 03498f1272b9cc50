"""What an operator may do to jobs: cancel them, retry them.

Both go through the guarded moves of :mod:`watchd.store.transitions`, so they
race safely with a running daemon: whoever moves the job first wins, and the
loser is told.

A cancel before ``/upload/asset/complete`` was sent stops the job for good
(the file is not queued again until it changes or is retried; the daemon
aborts the multipart upload). Once complete was sent the upload cannot be
undone: the file still goes through its batch close (an invisible asset helps
no one) but its source is neither moved nor deleted. Once the post-upload
move or delete has begun, the cancel comes too late.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.store.models import ACTIVE_JOB_STATES, TERMINAL_JOB_STATES, Job, JobState
from watchd.store.queries import same_version
from watchd.store.transitions import NOT_UPLOADED, RESUME, SOURCE_UNCLAIMED, move_job

OPERATOR_CANCEL_TEXT = "cancelled by an operator"
CANCELLABLE_STATES = (JobState.QUEUED, JobState.UPLOADING, JobState.WAITING)
RETRYABLE_STATES = (JobState.FAILED, JobState.CANCELLED)


class CancelOutcome(enum.StrEnum):
    """What a cancel did to one job."""

    CANCELLED = "cancelled"  # stopped before complete: no asset, upload aborted, source kept
    SOURCE_KEPT = "source_kept"  # already uploaded: it finishes, the source stays in place
    TOO_LATE = "too_late"  # the source is already being moved or deleted
    FINISHED = "finished"  # done, failed or cancelled already: nothing to do
    UNKNOWN = "unknown"  # no such job


@dataclass(frozen=True)
class Cancelled:
    """One job's cancel outcome, with what the message needs."""

    job: int
    outcome: CancelOutcome
    state: str | None = None
    asset_id: int | None = None
    batch: str | None = None


def cancel_job(session: Session, job_id: int, now: datetime) -> Cancelled:
    """Cancel one job as an operator; return what happened (see the module docstring)."""
    job = session.get(Job, job_id)
    if job is None:
        return Cancelled(job_id, CancelOutcome.UNKNOWN)
    batch = job.batch.name if job.batch else None
    if job.state == JobState.FAILED and move_job(
        session,
        job_id,
        JobState.CANCELLED,
        allowed=(JobState.FAILED,),
        now=now,
        operator_cancelled_at=now,
        last_error=f"{OPERATOR_CANCEL_TEXT} after it failed: {job.last_error or '-'}",
    ):  # dismissed: no longer a problem (`watchd status`), until it is retried or changes
        return Cancelled(job_id, CancelOutcome.CANCELLED, JobState.CANCELLED.value, None, batch)
    if job.state in TERMINAL_JOB_STATES:
        return Cancelled(job_id, CancelOutcome.FINISHED, job.state.value, job.asset_id, batch)
    if move_job(
        session,
        job_id,
        JobState.CANCELLED,
        allowed=CANCELLABLE_STATES,
        now=now,
        when=NOT_UPLOADED,
        operator_cancelled_at=now,
        last_error=OPERATOR_CANCEL_TEXT,
    ):
        return Cancelled(job_id, CancelOutcome.CANCELLED, JobState.CANCELLED.value, None, batch)
    if move_job(
        session,
        job_id,
        None,
        allowed=ACTIVE_JOB_STATES,
        now=now,
        when=SOURCE_UNCLAIMED,
        operator_cancelled_at=now,
    ):
        job = session.get_one(Job, job_id)
        return Cancelled(job_id, CancelOutcome.SOURCE_KEPT, job.state.value, job.asset_id, batch)
    job = session.get_one(Job, job_id)
    outcome = CancelOutcome.FINISHED if job.state in TERMINAL_JOB_STATES else CancelOutcome.TOO_LATE
    return Cancelled(job_id, outcome, job.state.value, job.asset_id, batch)


@dataclass(frozen=True)
class Retried:
    """Which jobs went back in line, and why others did not."""

    retried: list[int]
    refused: dict[int, str]  # job id -> reason


def retry_jobs(
    session: Session, job_ids: list[int] | None, now: datetime, *, only_failed: bool = False
) -> Retried:
    """Put failed or cancelled jobs back in line with fresh attempts.

    ``job_ids`` None means every failed job (``only_failed`` narrows a list to
    failed ones too). A cancelled job whose file version has another live job
    is refused, so the same version never runs twice.
    """
    states = (JobState.FAILED,) if only_failed or job_ids is None else RETRYABLE_STATES
    query = select(Job).where(Job.state.in_(states))
    if job_ids is not None:
        query = query.where(Job.id.in_(job_ids))
    candidates = list(session.scalars(query))
    found = {job.id for job in candidates}
    refused = {job_id: "not failed or cancelled" for job_id in job_ids or [] if job_id not in found}
    retried = []
    for job in candidates:
        twin = _live_twin(session, job)
        if twin is not None:
            refused[job.id] = f"the same version of the file is already job {twin}"
            continue
        if move_job(
            session,
            job.id,
            RESUME,
            allowed=states,
            now=now,
            attempts=0,
            operator_cancelled_at=None,
        ):
            retried.append(job.id)
    return Retried(retried, refused)


def _live_twin(session: Session, job: Job) -> int | None:
    """Return another job (not cancelled) for the same version of ``job``'s file."""
    fingerprint = Fingerprint(job.device, job.inode, job.size, job.mtime_ns)
    version = SettledFile(job.folder, Path(job.path), job.relpath, fingerprint)
    return session.scalar(
        select(Job.id)
        .where(same_version(version), Job.id != job.id, Job.state != JobState.CANCELLED)
        .limit(1)
    )
