"""Never forget an open multipart upload.

A job keeps its ``upload_id`` and ``key`` until Flow Capture confirms the
upload is gone (the abort succeeded, or the service no longer knows it) or
the upload completed. A cancelled or failed job whose abort failed (the usual
case during an outage) is found again by :meth:`Aborts.sweep`, which the
scheduler runs until every such upload is aborted.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update

from watchd.base.clock import SYSTEM_CLOCK, Clock
from watchd.base.stop import Stopped, StopToken
from watchd.flowcapture.budget import Budget
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import FlowCaptureError, UploadNotFoundError
from watchd.flowcapture.models import UploadSession
from watchd.store.database import Database
from watchd.store.models import Job, Part
from watchd.store.queries import abandoned_upload

log = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 10.0  # how often uploads left open by cancelled/failed jobs are retried
SWEEP_BACKOFF_MAX_SECONDS = 160.0  # a sweep that aborted nothing doubles the wait, up to this


class Aborts:
    """Aborts the multipart uploads that will never be completed."""

    def __init__(
        self,
        db: Database,
        client: FlowCaptureClient,
        clock: Clock = SYSTEM_CLOCK,
        calls: Budget | None = None,
    ):
        self.db = db
        self.client = client
        self.clock = clock
        self.calls = calls  # API calls in flight, shared with the uploads (budget.py)
        self._sweep_wait = SWEEP_EVERY_SECONDS
        self._next_sweep = 0.0  # monotonic

    def abort(self, job_id: int, stop: StopToken | None = None) -> bool:
        """Abort the job's multipart upload if it has one; return True once none is left.

        On failure the handles stay on the job for the next sweep.
        """
        with self.db.reading() as session:
            row = session.get_one(Job, job_id)
            upload_id, key, path = row.upload_id, row.key, row.path
        if upload_id is None or key is None or row.uploaded_at is not None:
            return True  # (completed: by another node that took the job over, say)
        try:
            self.client.upload_abort(
                UploadSession(upload_id=upload_id, key=key), stop=stop, calls=self.calls
            )
        except UploadNotFoundError:
            log.debug("upload of job=%d was already gone", job_id)
            self.forget(job_id, upload_id)
            return True
        except (FlowCaptureError, Stopped) as exc:
            log.warning(
                "could not abort the upload of file=%s job=%d (tried again later): %s",
                path,
                job_id,
                exc,
            )
            return False
        self.forget(job_id, upload_id)  # committed before the line below says it is done
        log.info("upload aborted: file=%s job=%d", path, job_id)
        return True

    def forget(self, job_id: int, upload_id: str) -> None:
        """Drop the job's upload handles and parts, if they still name ``upload_id``."""
        with self.db.transaction() as session:
            forgotten = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.upload_id == upload_id, Job.uploaded_at.is_(None))
                .values(upload_id=None, key=None, part_size=None, complete_sent_at=None)
                .execution_options(synchronize_session=False)
            )
            if getattr(forgotten, "rowcount", 0):
                session.execute(delete(Part).where(Part.job_id == job_id))

    def pending(self) -> list[int]:
        """Return the finished jobs whose upload still waits to be aborted."""
        with self.db.reading() as session:
            return list(session.scalars(select(Job.id).where(abandoned_upload()).order_by(Job.id)))

    def due(self) -> bool:
        """True when the next sweep is due (the daemon asks every SWEEP_EVERY_SECONDS).

        While every abort keeps failing (an outage) sweeps thin out, the wait
        doubling up to SWEEP_BACKOFF_MAX_SECONDS; once one works it is short again.
        """
        return self.clock.monotonic() >= self._next_sweep

    def sweep(self, stop: StopToken | None = None) -> int:
        """Try to abort every upload that waits for it; return how many are left."""
        pending = self.pending()
        left = 0
        for job_id in pending:
            if stop is not None and stop.stopped:
                return left
            if not self.abort(job_id, stop):
                left += 1
        failing = bool(pending) and left == len(pending)
        self._sweep_wait = (
            min(self._sweep_wait * 2, SWEEP_BACKOFF_MAX_SECONDS) if failing else SWEEP_EVERY_SECONDS
        )
        # Due again after the wait, a little early so that the next tick is not missed.
        self._next_sweep = self.clock.monotonic() + self._sweep_wait - SWEEP_EVERY_SECONDS / 2
        return left
