"""Read-only questions about the store, for the pipeline, status and operator commands."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import ColumnElement, String, and_, bindparam, func, literal, or_, select
from sqlalchemy.orm import Session, joinedload

from watchd.base.fileversion import SettledFile
from watchd.base.names import printable
from watchd.store.models import Batch, BatchState, Job, JobState, Part

RECENT_ERRORS = 10  # how many of the latest errors status shows


def same_version(file: SettledFile) -> ColumnElement[bool]:
    """Return the condition "a job for this version of this file".

    The same version is the same inode with the same size and mtime in the
    same drop folder (renamed or moved within the folder included), or the
    same path in the same folder with the same size and mtime (a share
    mounted again, with new inode or device numbers). The device number is
    not compared: remounts change it. "The same drop folder" is the same name
    or the same directory (a folder renamed in the config); a file moved into
    another drop folder is that folder's new file, for its Flow Capture folder.
    """
    fp = file.fingerprint
    here = Job.folder == file.folder
    if file.root is not None:  # (the job's path is its folder's plus its relpath)
        here = or_(here, Job.path == literal(file.root, String()) + Job.relpath)
    same_inode = and_(Job.inode == fp.inode, Job.size == fp.size, Job.mtime_ns == fp.mtime_ns, here)
    same_path = and_(
        Job.folder == file.folder,
        Job.relpath == file.relpath,
        Job.size == fp.size,
        Job.mtime_ns == fp.mtime_ns,
    )
    return or_(same_inode, same_path)


def abandoned_upload() -> ColumnElement[bool]:
    """Return the condition "a finished job whose multipart upload is still open".

    Cancelled and failed jobs never complete their upload, so it is aborted; an
    upload that was completed (``uploaded_at``) keeps its key for its batch.
    """
    return and_(
        Job.state.in_([JobState.CANCELLED, JobState.FAILED]),
        Job.upload_id.is_not(None),
        Job.uploaded_at.is_(None),
    )


def uploads_to_abort(session: Session) -> int:
    """Return how many multipart uploads of finished jobs still wait to be aborted."""
    return int(session.scalar(select(func.count(Job.id)).where(abandoned_upload())) or 0)


# Built once: each run of a job loads it, and building the statement with its loader
# option each time was a third of the load's CPU (a hot path with many small files).
_LOAD_JOB = select(Job).options(joinedload(Job.batch)).where(Job.id == bindparam("job_id"))


def load_job(session: Session, job_id: int) -> Job:
    """Return the job with its batch loaded (usable after the session ends; parts are not).

    Raises NoResultFound if there is no such job.
    """
    return session.execute(_LOAD_JOB, {"job_id": job_id}).unique().scalar_one()


def part_rows(session: Session, job_id: int) -> list[tuple[int, int, int, str | None]]:
    """Return the job's parts as (number, offset, size, etag), in part order."""
    rows = session.execute(
        select(Part.number, Part.offset, Part.size, Part.etag)
        .where(Part.job_id == job_id)
        .order_by(Part.number)
    )
    return [(number, offset, size, etag) for number, offset, size, etag in rows]


def job_counts(session: Session) -> dict[str, int]:
    """Return the number of jobs in each state (every state listed, zeros included)."""
    counts = {state.value: 0 for state in JobState}
    for state, count in session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[JobState(state).value] = count
    return counts


ARCHIVE_FAILED = "moving to the archive "  # what a failed move after upload says (a wait)


def archive_waits(session: Session) -> dict[str, tuple[int, str]]:
    """Return, by drop folder, how many done-but-not-moved files wait for their archive
    (full, read-only, gone) and one of their reasons."""
    rows = session.execute(
        select(Job.folder, func.count(Job.id), func.max(Job.last_error))
        .where(Job.state == JobState.WAITING, Job.last_error.contains(ARCHIVE_FAILED))
        .group_by(Job.folder)
    )
    return {
        folder: (count, (error or "")[(error or "").find(ARCHIVE_FAILED) :])
        for folder, count, error in rows
    }


def open_batches(session: Session) -> list[dict[str, Any]]:
    """Return the batches not closed yet, with their member counts."""
    return _batch_rows(session, Batch.state.in_([BatchState.OPEN, BatchState.CLOSING]), None)


ERROR_STATES = (JobState.WAITING, JobState.FAILED, JobState.CANCELLED)


def recent_errors(session: Session, limit: int = RECENT_ERRORS) -> list[dict[str, Any]]:
    """Return the latest jobs that carry an error (waiting, failed or cancelled: one
    going again keeps its last error, for `watchd jobs`, but it is no problem now)."""
    # The states are picked here, not in SQL, so the query reads every job's row as it
    # always did (an index on the state would skip most): for `watchd status` that scan
    # is also what finds a damaged table.
    found = session.scalars(
        select(Job)
        .where(Job.last_error.is_not(None))
        .order_by(Job.updated_at.desc(), Job.id.desc())
        .execution_options(yield_per=4 * limit)  # (read as far as needed, not all)
    )
    jobs = itertools.islice(
        (job for job in found if job.state in ERROR_STATES and not _replaced(session, job)),
        limit,
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


def _replaced(session: Session, job: Job) -> bool:
    """Is ``job`` a version of its file that a newer one took the place of (cancelled by
    watchd, not by an operator, when the file changed)? Then it is no error of now."""
    if job.state != JobState.CANCELLED or job.operator_cancelled_at is not None:
        return False
    newer = select(Job.id).where(
        Job.folder == job.folder, Job.relpath == job.relpath, Job.id > job.id
    )
    return session.scalar(newer.limit(1)) is not None


def job_row(job: Job) -> dict[str, Any]:
    """A job as a JSON-ready dict for listings."""
    return {
        "job": job.id,
        "state": job.state.value,
        "folder": job.folder,
        "file": job.path,
        "size": job.size,
        "batch": job.batch.name if job.batch else None,
        "attempts": job.attempts,
        "asset_id": job.asset_id,
        "uuid": job.uuid,
        "updated_at": job.updated_at.isoformat(timespec="seconds"),
        "next_attempt_at": job.next_attempt_at.isoformat(timespec="seconds")
        if job.next_attempt_at
        else None,
        "error": job.last_error,
        "archived_to": job.archived_to,  # where the source was moved once done
        "note": _note(job),
        "node": job.lease_node,  # the node working on it (several nodes sharing the database)
    }


def _note(job: Job) -> str | None:
    if job.operator_cancelled_at is not None and job.state != JobState.CANCELLED:
        return "cancelled by an operator after its upload: the source is kept"
    if job.state == JobState.DONE and job.uploaded_at is None:
        return f"already in Flow Capture as asset {job.asset_id}: not uploaded again"
    if job.archived_to is not None:
        return f"moved to {printable(job.archived_to)}"
    if job.state == JobState.WAITING and job.uploaded_at is not None and not job.last_error:
        return "uploaded: waiting for Flow Capture to process it and list the asset"
    return None


def list_jobs(
    session: Session, *, state: str | None = None, folder: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Return the newest jobs first, optionally of one state and/or folder."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Job.state == JobState(state))
    if folder is not None:
        query = query.where(Job.folder == folder)
    return [job_row(job) for job in session.scalars(query)]


def list_batches(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """Return the newest batches first with their member counts."""
    return _batch_rows(session, None, limit)


def _batch_rows(
    session: Session, condition: ColumnElement[bool] | None, limit: int | None
) -> list[dict[str, Any]]:
    left_out = Job.state.in_([JobState.CANCELLED, JobState.FAILED])
    query = (
        select(
            Batch,
            func.count(Job.id).filter(~left_out),  # (a batch without jobs: 0, not NULL)
            func.count(Job.id).filter(left_out),
        )
        .outerjoin(Job, Job.batch_id == Batch.id)
        .group_by(Batch.id)
        .order_by(Batch.id.desc())
    )
    if condition is not None:
        query = query.where(condition)
    if limit is not None:
        query = query.limit(limit)
    return [
        {
            "id": batch.id,
            "folder": batch.folder,
            "name": batch.name,
            "project_id": batch.project_id,
            "state": batch.state.value,
            "files": files,  # its files, less those cancelled or failed (not uploaded)
            "left_out": left,
            "opened_at": batch.opened_at.isoformat(timespec="seconds"),
            "last_file_at": batch.last_file_at.isoformat(timespec="seconds"),
            "closed_at": batch.closed_at.isoformat(timespec="seconds") if batch.closed_at else None,
            "attempts": batch.attempts,
            "last_error": batch.last_error,
        }
        for batch, files, left in session.execute(query)
    ]


def totals(session: Session) -> dict[str, Any]:
    """Return the figures the metrics endpoint exposes, all from the database."""
    bytes_uploaded = session.scalar(
        select(func.coalesce(func.sum(Job.size), 0)).where(Job.uploaded_at.is_not(None))
    )
    parts = session.scalar(select(func.count(Part.id)).where(Part.etag.is_not(None)))
    retries = session.scalar(select(func.coalesce(func.sum(Job.attempts), 0)))
    batches = {state.value: 0 for state in BatchState}
    for state, count in session.execute(select(Batch.state, func.count()).group_by(Batch.state)):
        batches[BatchState(state).value] = count
    return {
        "jobs": job_counts(session),
        "bytes_uploaded": int(bytes_uploaded or 0),
        "parts_uploaded": int(parts or 0),
        "retries": int(retries or 0),
        "batches": batches,
    }


def lock_folder_queue(session: Session, folder: str) -> None:
    """Make this transaction the only one queueing files of ``folder`` until it ends.

    On a shared PostgreSQL queue a folder's new files are looked up and
    inserted under a transaction-scoped advisory lock, so two nodes (one
    losing the folder's lease as the other takes it) never queue the same
    version twice. SQLite needs nothing: its writers already take turns.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"watchd:queue:{folder}"))))
