"""Read-only questions about the store, for status and operator commands."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watchd.store.models import Batch, BatchState, Job, JobState

RECENT_ERRORS = 10  # how many of the latest errors status shows


def job_counts(session: Session) -> dict[str, int]:
    """Return the number of jobs in each state (every state listed, zeros included)."""
    counts = {state.value: 0 for state in JobState}
    for state, count in session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[JobState(state).value] = count
    return counts


def open_batches(session: Session) -> list[dict[str, Any]]:
    """Return the batches not closed yet, with their member counts."""
    rows = session.execute(
        select(Batch, func.count(Job.id))
        .outerjoin(Job, Job.batch_id == Batch.id)
        .where(Batch.state.in_([BatchState.OPEN, BatchState.CLOSING]))
        .group_by(Batch.id)
        .order_by(Batch.id)
    )
    return [
        {
            "id": batch.id,
            "folder": batch.folder,
            "name": batch.name,
            "state": batch.state.value,
            "files": files,
            "opened_at": batch.opened_at.isoformat(timespec="seconds"),
            "last_file_at": batch.last_file_at.isoformat(timespec="seconds"),
            "attempts": batch.attempts,
            "last_error": batch.last_error,
        }
        for batch, files in rows
    ]


def recent_errors(session: Session, limit: int = RECENT_ERRORS) -> list[dict[str, Any]]:
    """Return the latest jobs that carry an error (waiting, failed or cancelled)."""
    jobs = session.scalars(
        select(Job)
        .where(Job.last_error.is_not(None))
        .order_by(Job.updated_at.desc(), Job.id.desc())
        .limit(limit)
    )
    return [
        {
            "job": job.id,
            "folder": job.folder,
            "file": job.path,
            "state": job.state.value,
            "attempts": job.attempts,
            "error": job.last_error,
            "at": job.updated_at.isoformat(timespec="seconds"),
        }
        for job in jobs
    ]


def retry_failed(session: Session, job_ids: list[int] | None) -> list[int]:
    """Put failed jobs back in line with fresh attempts; return the ids retried.

    ``job_ids`` None means every failed job. Jobs in other states are left alone.
    """
    query = select(Job).where(Job.state == JobState.FAILED)
    if job_ids is not None:
        query = query.where(Job.id.in_(job_ids))
    retried = []
    for job in session.scalars(query):
        job.state = JobState.QUEUED if job.asset_id is None else JobState.INGESTING
        job.attempts = 0
        job.next_attempt_at = None
        job.finished_at = None
        retried.append(job.id)
    return retried
