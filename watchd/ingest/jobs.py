"""Running one job through its states, each move guarded, committed and logged.

``queued`` -> upload step (``uploading`` once init answered) -> ``uploaded`` (waits for
its batch) -> batch closed -> ``ingesting`` -> finish step -> ``done``.
Failures go to ``waiting`` (retry later) or ``failed``; a file that vanished
or changed is ``cancelled`` and its multipart upload aborted. Every move goes
through :func:`watchd.store.transitions.move_job`; a move that loses (an
operator cancelled meanwhile) makes the runner back off, never overwrite.
"""

from __future__ import annotations

import errno
import logging
import random
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, literal, update

from watchd.base.clock import SYSTEM_CLOCK, Clock
from watchd.base.events import Event, EventKind, EventSink, ignore_events
from watchd.base.fileversion import SettledFile
from watchd.base.stop import Stopped, StopToken
from watchd.flowcapture.errors import NotFoundError
from watchd.ingest.aborts import Aborts
from watchd.ingest.failures import FolderUnavailable, RetryPolicy, judge, record_failure
from watchd.ingest.finish_step import AssetNotReady, FinishStep, nothing_to_finish
from watchd.ingest.policy import FolderPolicy
from watchd.ingest.queueing import BatchRule, join_batch
from watchd.ingest.upload_step import JobLost, SourceChanged, UploadStep, fingerprint_of
from watchd.store.database import Database
from watchd.store.models import BatchState, Job, JobState, UtcDateTime
from watchd.store.operator_actions import OPERATOR_CANCEL_TEXT
from watchd.store.queries import load_job
from watchd.store.transitions import COMPLETE_NOT_SENT, move_job, state_fields

log = logging.getLogger(__name__)

UPLOAD_STATES = frozenset({JobState.QUEUED, JobState.UPLOADING})
PROCESSING_POLL_SECONDS = 3.0  # how often to look for an asset Flow Capture is processing
PROCESSING_PATIENCE_SECONDS = 3600.0  # after this, each further look counts as an attempt
RENAME_GRACE_SECONDS = 5.0  # a file gone mid-upload is looked for again (renamed?) after this
VANISHED_TEXT = "the file is gone; looking for it once more (was it renamed?)"
FINISHED_TOGETHER_AT_MOST = 500  # jobs recorded done in one statement by finish_together


class JobRunner:
    """Moves a job forward as far as it can go now."""

    def __init__(
        self,
        db: Database,
        upload: UploadStep,
        finish: FinishStep,
        aborts: Aborts,
        folders: Callable[[], dict[str, FolderPolicy]],
        retry: Callable[[], RetryPolicy],
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        available: Callable[[str], bool] = lambda _folder: True,
        source_policy: Callable[[Job, FolderPolicy], FolderPolicy] | None = None,
        events: EventSink = ignore_events,
    ):
        self.db = db
        self.events = events  # told of files failed for good (notifications)
        self.upload = upload
        self.finish = finish
        self.aborts = aborts
        self.folders = folders
        self.retry = retry
        self.clock = clock
        self.rng = rng or random.Random()
        self.available = available  # is this drop folder present (not missing/unmounted)?
        # May a file's source be moved or deleted (chain of custody, custody_step.py)?
        self.source_policy = source_policy or (lambda _job, folder: folder)

    def load(self, job_id: int) -> Job:
        """Return the job with its parts and batch loaded."""
        with self.db.reading() as session:
            return load_job(session, job_id)

    def run(self, job_id: int, stop: StopToken) -> None:
        """Advance one job; never raises for a job's own failure (it is recorded).

        ``stop`` is the job's token: set when the daemon stops or the job is cancelled.
        """
        job = self.load(job_id)
        folder = self.folders().get(job.folder)
        if folder is None:
            log.warning(
                "job=%d belongs to folder %r, which is no longer configured", job.id, job.folder
            )
            return
        try:
            if job.state in UPLOAD_STATES:
                self._upload(job, folder, stop)
            elif job.state == JobState.INGESTING:
                self._finish(job, folder, stop)
        except JobLost:
            pass  # logged where it was lost
        except Stopped as exc:
            self._stopped(job, exc)
        except AssetNotReady:
            self._wait_for_processing(job)
        except SourceChanged as exc:
            if exc.vanished and not self.available(job.folder):
                # An unmounted share is not "every file was deleted": wait for it.
                self._fail(
                    job, FolderUnavailable(errno.EHOSTDOWN, f"drop folder unavailable ({exc})")
                )
            elif not (exc.vanished and self._looking_for_it(job)):
                self._cancel(job, str(exc), vanished=exc.vanished)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            self._fail(job, exc)

    # --- the steps ------------------------------------------------------------------------

    def _upload(self, job: Job, folder: FolderPolicy, stop: StopToken) -> None:
        resuming = job.state == JobState.QUEUED and job.upload_id is not None
        if resuming or job.batch is None or job.batch.state != BatchState.OPEN:
            now = self.clock.now()
            with self.db.transaction() as session:
                if resuming and not move_job(
                    session, job.id, JobState.UPLOADING, allowed=(JobState.QUEUED,), now=now
                ):
                    return  # cancelled meanwhile
                row = session.get_one(Job, job.id)
                if row.batch is None or row.batch.state != BatchState.OPEN:
                    # Its batch closed while it waited (an operator retry): join an open
                    # one now, so complete and /complete/upload name the same batch. While
                    # this job uploads it holds its batch open. Not started yet, it goes
                    # where its folder uploads now (the project may have changed since it
                    # failed); once init named a project, only a batch of that project
                    # can close it.
                    if row.upload_id is None:
                        row.project_id = folder.project_id
                    rule = BatchRule(project_id=row.project_id, template=folder.batch_template)
                    row.batch = join_batch(session, _settled(row), rule, now)
            job = self.load(job.id)
        uploaded = self.upload.run(job, stop)
        with self.db.transaction() as session:
            moved = move_job(
                session,
                job.id,
                JobState.UPLOADED,
                allowed=(JobState.UPLOADING,),
                now=self.clock.now(),
                asset_id=uploaded.asset_id,
            )
        if not moved:  # only the operator's cancel moves a job, and not once complete was sent
            log.error("job=%d changed state while it completed; left as it is", job.id)
            return
        rate = job.size / uploaded.seconds if uploaded.seconds > 0 else 0.0
        log.info(
            "uploaded: file=%s job=%d batch=%r size=%d duration=%.1fs rate=%s asset=%s",
            job.path,
            job.id,
            job.batch.name if job.batch else None,
            job.size,
            uploaded.seconds,
            f"{rate / 1e6:.1f}MB/s" if rate >= 1e5 else f"{rate / 1e3:.1f}kB/s",
            uploaded.asset_id if uploaded.asset_id is not None else "presumed",
        )

    def _finish(self, job: Job, folder: FolderPolicy, stop: StopToken) -> None:
        finished = self.finish.run(job, self.source_policy(job, folder), stop)
        # Tagging committed on its own (a folder that moves or deletes) stays as it is.
        tagged: dict[str, Any] = {}
        if finished.tagged_at is not None:
            tagged["tagged_at"] = finished.tagged_at
        with self.db.transaction() as session:
            moved = move_job(
                session,
                job.id,
                JobState.DONE,
                allowed=(JobState.INGESTING,),
                now=self.clock.now(),
                asset_id=finished.asset_id,
                archived_to=finished.archived_to,
                **tagged,
            )
        if moved:
            log.info(
                "done: file=%s job=%d batch=%r asset=%s uuid=%s",
                job.path,
                job.id,
                job.batch.name if job.batch else None,
                finished.asset_id,
                job.uuid,
            )

    def finish_together(self, job_ids: Sequence[int], folder: FolderPolicy, batch: str) -> set[int]:
        """Record as done, a few hundred to a commit, the jobs that have nothing left to do.

        ``job_ids`` are members of the batch named ``batch``, just closed. Those
        done are the ``ingesting`` jobs among them whose asset id is
        known and no node holds a lease on (several nodes on one PostgreSQL
        queue), when ``folder`` has nothing to tag and keeps its sources (see
        ``nothing_to_finish``): running them one by one would load, and commit,
        each job only to move it to ``done``. The batch closer calls it for the
        members it moved on. Returns the ids moved; the rest (an upload presumed
        complete, whose asset is looked for first; a tagging folder's) are left
        to ``run``.
        """
        if not nothing_to_finish(folder):
            return set()
        moved: set[int] = set()
        now = self.clock.now()
        for start in range(0, len(job_ids), FINISHED_TOGETHER_AT_MOST):
            chunk = job_ids[start : start + FINISHED_TOGETHER_AT_MOST]
            with self.db.transaction() as session:
                rows = session.execute(
                    update(Job)
                    .where(
                        Job.id.in_(chunk),
                        Job.state == JobState.INGESTING,
                        Job.asset_id.is_not(None),
                        Job.lease_node.is_(None),  # a node (shared queue) runs it: its own
                    )
                    .values(
                        {
                            **state_fields(JobState.DONE, now),
                            "tagged_at": func.coalesce(Job.tagged_at, literal(now, UtcDateTime())),
                        }
                    )
                    .returning(Job.id, Job.path, Job.asset_id, Job.uuid)
                    .execution_options(synchronize_session=False)
                ).all()
            for row in sorted(rows, key=lambda row: row.id):
                log.info(
                    "done: file=%s job=%d batch=%r asset=%s uuid=%s",
                    row.path,
                    row.id,
                    batch,
                    row.asset_id,
                    row.uuid,
                )
                moved.add(row.id)
        return moved

    # --- when a step does not get through ---------------------------------------------------

    def _stopped(self, job: Job, stopped: Stopped) -> None:
        if stopped.reason == OPERATOR_CANCEL_TEXT:
            aborted = self.aborts.abort(job.id)
            log.warning(
                "cancelled by an operator: file=%s job=%d; upload %s",
                job.path,
                job.id,
                "aborted" if aborted else "aborted later",
            )
        else:
            log.info("paused (%s): file=%s job=%d", stopped.reason, job.path, job.id)

    def _wait_for_processing(self, job: Job) -> None:
        """Look again soon; a long wait after the batch closed counts as a failed attempt."""
        closed = job.batch.closed_at if job.batch else None
        now = self.clock.now()
        if closed is not None and now - closed > timedelta(seconds=PROCESSING_PATIENCE_SECONDS):
            minutes = (now - closed).total_seconds() / 60
            self._fail(
                job, NotFoundError(f"asset not listed {minutes:.0f} min after /complete/upload")
            )
            return
        with self.db.transaction() as session:
            move_job(
                session,
                job.id,
                JobState.WAITING,
                allowed=(JobState.INGESTING,),
                now=now,
                next_attempt_at=now + timedelta(seconds=PROCESSING_POLL_SECONDS),
            )
        log.debug("waiting for Flow Capture to process asset=%s job=%d", job.asset_id, job.id)

    def _looking_for_it(self, job: Job) -> bool:
        """A file gone from under its job may have been renamed: follow it or look again once.

        Returns False when it is gone for good (looked for once already).
        """
        current = self.load(job.id)
        if current.path != job.path:
            log.info("following the rename: file=%s job=%d", current.path, job.id)
            return True  # the watcher moved the job to the new name; it runs again at once
        if current.last_error == VANISHED_TEXT:
            return False
        now = self.clock.now()
        with self.db.transaction() as session:
            return move_job(
                session,
                job.id,
                JobState.WAITING,
                allowed=(JobState.QUEUED, JobState.UPLOADING),
                now=now,
                next_attempt_at=now + timedelta(seconds=RENAME_GRACE_SECONDS),
                last_error=VANISHED_TEXT,
            )

    def _cancel(self, job: Job, reason: str, *, vanished: bool) -> None:
        """The file changed or vanished: cancel (not sticky) and abort the upload."""
        with self.db.transaction() as session:
            moved = move_job(
                session,
                job.id,
                JobState.CANCELLED,
                allowed=(JobState.QUEUED, JobState.UPLOADING),
                now=self.clock.now(),
                when=COMPLETE_NOT_SENT,
                last_error=reason,
            )
        if not moved:
            return
        self.aborts.abort(job.id)
        verb = "disappeared" if vanished else "changed"
        log.warning("cancelled (%s): file=%s job=%d: %s", verb, job.path, job.id, reason)

    def _fail(self, job: Job, error: Exception) -> None:
        ingesting = job.state == JobState.INGESTING
        verdict = judge(error, ingesting=ingesting)
        # Only from the states this run moves the job through: a job another node moved
        # on meanwhile (a lease lost while this one was frozen) is not failed here.
        running = (JobState.INGESTING,) if ingesting else (JobState.QUEUED, JobState.UPLOADING)
        with self.db.transaction() as session:
            recorded = record_failure(
                session, job.id, verdict, self.retry(), self.clock.now(), self.rng, running
            )
        if recorded is None:
            self.aborts.abort(job.id)  # cancelled meanwhile; the sweep retries a failed abort
            return
        if verdict.scope is not None:
            log.debug(
                "waiting (%s): file=%s job=%d: %s", verdict.scope, job.path, job.id, verdict.reason
            )
            return
        if recorded.state == JobState.FAILED:
            log.error(
                "failed: file=%s job=%d after %d attempt(s): %s; `watchd retry %d` tries again",
                job.path,
                job.id,
                recorded.attempts,
                verdict.reason,
                job.id,
            )
            self.events(
                Event(
                    EventKind.FILE_FAILED,
                    f"{job.path} failed for good after {recorded.attempts} attempt(s): "
                    f"{verdict.reason} (`watchd retry {job.id}` tries again)",
                    folder=job.folder,
                    files=1,
                    errors=(f"{job.path}: {verdict.reason}",),
                )
            )
            if job.uploaded_at is None:  # nothing will complete this upload: don't leave it
                self.aborts.abort(job.id)
            return
        log.warning(
            "will retry: file=%s job=%d attempt=%d at=%s: %s",
            job.path,
            job.id,
            recorded.attempts,
            recorded.next_attempt_at.isoformat(timespec="seconds")
            if recorded.next_attempt_at
            else "?",
            verdict.reason,
        )


def _settled(job: Job) -> SettledFile:
    return SettledFile(job.folder, Path(job.path), job.relpath, fingerprint_of(job))
