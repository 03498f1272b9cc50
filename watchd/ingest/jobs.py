"""Running one job through its states, with every transition committed and logged.

``queued``/``uploading`` -> upload step -> ``uploaded`` (waits for its batch)
-> batch closed -> ``ingesting`` -> finish step -> ``done``. Failures go to
``waiting`` (retry later) or ``failed``; a file that vanished or changed is
``cancelled`` and its multipart upload aborted.
"""

from __future__ import annotations

import errno
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from watchd.flowcapture.errors import NotFoundError
from watchd.ingest.failures import RetryPolicy, UploadStopped, apply_failure, judge
from watchd.ingest.finish_step import AssetNotReady, FinishStep
from watchd.ingest.policy import FolderPolicy
from watchd.ingest.queueing import BatchRule, join_batch
from watchd.ingest.upload_step import JobCancelled, SourceChanged, UploadStep, fingerprint_of
from watchd.store.database import Database
from watchd.store.models import BatchState, Job, JobState
from watchd.watch.stability import SettledFile

log = logging.getLogger(__name__)

UPLOAD_STATES = frozenset({JobState.QUEUED, JobState.UPLOADING})
PROCESSING_POLL_SECONDS = 3.0  # how often to look for an asset Flow Capture is processing
PROCESSING_PATIENCE_SECONDS = 3600.0  # after this, each further look counts as an attempt


class JobRunner:
    """Moves a job forward as far as it can go now."""

    def __init__(
        self,
        db: Database,
        upload: UploadStep,
        finish: FinishStep,
        folders: Callable[[], dict[str, FolderPolicy]],
        retry: Callable[[], RetryPolicy],
        rng: random.Random | None = None,
        available: Callable[[str], bool] = lambda _folder: True,
    ):
        self.db = db
        self.upload = upload
        self.finish = finish
        self.folders = folders
        self.retry = retry
        self.rng = rng or random.Random()
        self.available = available  # is this drop folder present (not missing/unmounted)?

    def load(self, job_id: int) -> Job:
        """Return the job with its parts and batch loaded."""
        with self.db.reading() as session:
            return session.scalars(
                select(Job)
                .where(Job.id == job_id)
                .options(selectinload(Job.parts), joinedload(Job.batch))
            ).one()

    def run(self, job_id: int) -> None:
        """Advance one job; never raises for a job's own failure (it is recorded)."""
        job = self.load(job_id)
        folder = self.folders().get(job.folder)
        if folder is None:
            log.warning(
                "job=%d belongs to folder %r, which is no longer configured", job.id, job.folder
            )
            return
        try:
            if job.state in UPLOAD_STATES:
                self._upload(job, folder)
            elif job.state == JobState.INGESTING:
                self._finish(job, folder)
        except UploadStopped:
            log.info("upload paused for shutdown: file=%s job=%d", job.path, job.id)
        except AssetNotReady:
            self._wait_for_processing(job)
        except JobCancelled:
            self.upload.abort(job.id)
            log.warning("cancelled by an operator: file=%s job=%d", job.path, job.id)
        except SourceChanged as exc:
            if exc.vanished and not self.available(job.folder):
                # An unmounted share is not "every file was deleted": wait for it.
                self._fail(job, OSError(errno.EHOSTDOWN, f"drop folder unavailable ({exc})"))
            else:
                self._cancel(job, str(exc), vanished=exc.vanished)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            self._fail(job, exc)

    def _upload(self, job: Job, folder: FolderPolicy) -> None:
        if job.batch is None or job.batch.state != BatchState.OPEN:
            # Its batch closed while it waited (an operator retry): join an open one now,
            # so complete and /complete/upload name the same batch. While this job
            # uploads it holds its batch open.
            with self.db.transaction() as session:
                row = session.get_one(Job, job.id)
                row.batch = join_batch(session, _settled(row), _rule(folder), datetime.now(UTC))
            job = self.load(job.id)
        asset_id = self.upload.run(job)
        now = datetime.now(UTC)
        with self.db.transaction() as session:
            row = session.get_one(Job, job.id)
            if row.state == JobState.CANCELLED:
                raise JobCancelled(f"job {job.id} was cancelled")
            row.asset_id, row.state = asset_id, JobState.UPLOADED
            row.uploaded_at = row.updated_at = now
            row.last_error = None

    def _finish(self, job: Job, folder: FolderPolicy) -> None:
        archived = self.finish.run(job, folder)
        now = datetime.now(UTC)
        with self.db.transaction() as session:
            row = session.get_one(Job, job.id)
            if row.state == JobState.CANCELLED:
                raise JobCancelled(f"job {job.id} was cancelled")
            row.state, row.archived_to = JobState.DONE, archived
            row.finished_at = row.updated_at = now
            row.last_error = None
        log.info(
            "done: file=%s job=%d batch=%r asset=%s uuid=%s",
            job.path,
            job.id,
            job.batch.name if job.batch else None,
            job.asset_id,
            job.uuid,
        )

    def abort_orphans(self) -> int:
        """Abort multipart uploads of jobs that will never complete them; return how many."""
        with self.db.reading() as session:
            ids = list(
                session.scalars(
                    select(Job.id).where(
                        Job.state.in_([JobState.CANCELLED, JobState.FAILED]),
                        Job.upload_id.is_not(None),
                        Job.asset_id.is_(None),
                    )
                )
            )
        for job_id in ids:
            self.upload.abort(job_id)
        return len(ids)

    def _wait_for_processing(self, job: Job) -> None:
        """Look again soon; a long wait after the batch closed counts as a failed attempt."""
        closed = job.batch.closed_at if job.batch else None
        now = datetime.now(UTC)
        if closed is not None and now - closed > timedelta(seconds=PROCESSING_PATIENCE_SECONDS):
            minutes = (now - closed).total_seconds() / 60
            self._fail(
                job, NotFoundError(f"asset not listed {minutes:.0f} min after /complete/upload")
            )
            return
        with self.db.transaction() as session:
            row = session.get_one(Job, job.id)
            row.state = JobState.WAITING
            row.next_attempt_at = now + timedelta(seconds=PROCESSING_POLL_SECONDS)
            row.updated_at = now
        log.debug("waiting for Flow Capture to process asset=%s job=%d", job.asset_id, job.id)

    def _cancel(self, job: Job, reason: str, *, vanished: bool) -> None:
        self.upload.abort(job.id)
        with self.db.transaction() as session:
            row = session.get_one(Job, job.id)
            row.state, row.last_error = JobState.CANCELLED, reason
            row.finished_at = row.updated_at = datetime.now(UTC)
        verb = "disappeared" if vanished else "changed"
        log.warning("cancelled (%s): file=%s job=%d: %s", verb, job.path, job.id, reason)

    def _fail(self, job: Job, error: Exception) -> None:
        verdict = judge(error, ingesting=job.state == JobState.INGESTING)
        with self.db.transaction() as session:
            row = session.get_one(Job, job.id)
            if row.state == JobState.CANCELLED:
                return  # an operator cancelled it meanwhile; the orphan sweep aborts the upload
            apply_failure(row, verdict, self.retry(), datetime.now(UTC), self.rng)
            state, attempts, next_at = row.state, row.attempts, row.next_attempt_at
        if state == JobState.FAILED:
            log.error(
                "failed: file=%s job=%d after %d attempt(s): %s; `watchd retry %d` tries again",
                job.path,
                job.id,
                attempts,
                verdict.reason,
                job.id,
            )
            if job.asset_id is None:  # nothing will complete this upload: don't leave it behind
                self.upload.abort(job.id)
                self.upload.reset(job.id, state=JobState.FAILED)
        else:
            log.warning(
                "will retry: file=%s job=%d attempt=%d at=%s: %s",
                job.path,
                job.id,
                attempts,
                next_at.isoformat(timespec="seconds") if next_at else "?",
                verdict.reason,
            )


def _settled(job: Job) -> SettledFile:
    return SettledFile(job.folder, Path(job.path), job.relpath, fingerprint_of(job))


def _rule(folder: FolderPolicy) -> BatchRule:
    return BatchRule(project_id=folder.project_id, template=folder.batch_template)
