"""Closing batches: one /complete/upload per batch, with exactly its uploaded keys.

A batch closes when no file has joined it for the folder's ``batch.idle`` and
every member is past uploading (uploaded, or failed/cancelled for good). It is
first marked ``closing`` (no file joins it any more), then /complete/upload is
sent and retried with backoff until accepted; then its uploaded members move
on to ``ingesting``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from watchd.failpoints import failpoint
from watchd.flowcapture.backoff import backoff_seconds
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import FlowCaptureError
from watchd.flowcapture.redact import redact
from watchd.ingest.failures import RetryPolicy
from watchd.store.database import Database
from watchd.store.models import Batch, BatchState, Job, JobState

log = logging.getLogger(__name__)

# Members in these states still hold their batch open.
ACTIVE_STATES = (JobState.QUEUED, JobState.UPLOADING, JobState.WAITING)


class BatchCloser:
    """Finds batches ready to close and closes them."""

    def __init__(
        self,
        db: Database,
        client: FlowCaptureClient,
        idle_seconds: Callable[[str], float | None],
        retry: Callable[[], RetryPolicy],
        rng: random.Random | None = None,
    ):
        self.db = db
        self.client = client
        self.idle_seconds = idle_seconds  # by folder name; None: folder not configured
        self.retry = retry
        self.rng = rng or random.Random()

    def run_once(self, now: datetime | None = None) -> int:
        """Mark ready batches closing and send the due ones; return how many closed."""
        now = now or datetime.now(UTC)
        self._mark_closing(now)
        closed = 0
        for batch_id in self._due(now):
            closed += self._close(batch_id)
        return closed

    def _mark_closing(self, now: datetime) -> None:
        with self.db.transaction() as session:
            for batch in session.scalars(select(Batch).where(Batch.state == BatchState.OPEN)):
                idle = self.idle_seconds(batch.folder)
                if idle is None or now - batch.last_file_at < timedelta(seconds=idle):
                    continue
                busy = session.scalar(
                    select(Job.id)
                    .where(Job.batch_id == batch.id, Job.state.in_(ACTIVE_STATES))
                    .limit(1)
                )
                if busy is None:
                    batch.state = BatchState.CLOSING
                    batch.next_attempt_at = now

    def _due(self, now: datetime) -> list[int]:
        """Closing batches due for a try, of the folders this closer serves."""
        with self.db.reading() as session:
            rows = session.execute(
                select(Batch.id, Batch.folder)
                .where(Batch.state == BatchState.CLOSING, Batch.next_attempt_at <= now)
                .order_by(Batch.id)
            )
            return [batch_id for batch_id, folder in rows if self.idle_seconds(folder) is not None]

    def _close(self, batch_id: int) -> int:
        with self.db.reading() as session:
            batch = session.get_one(Batch, batch_id)
            keys = [
                key
                for key in session.scalars(
                    select(Job.key)
                    .where(Job.batch_id == batch_id, Job.state == JobState.UPLOADED)
                    .order_by(Job.id)
                )
                if key is not None
            ]
        if not keys:
            self._finish(batch_id, BatchState.EMPTY)
            log.info("batch closed empty: folder=%s batch=%r", batch.folder, batch.name)
            return 0
        failpoint("batch:before-complete-upload")
        try:
            accepted = self.client.complete_upload(batch.project_id, keys, batch_name=batch.name)
            if not accepted:
                raise FlowCaptureError("/complete/upload answered ok=false")
        except FlowCaptureError as exc:
            self._retry_later(batch, exc)
            return 0
        failpoint("batch:after-complete-upload")  # accepted by the server, not committed yet
        self._finish(batch_id, BatchState.CLOSED)
        log.info(
            "batch closed: folder=%s batch=%r files=%d project=%s",
            batch.folder,
            batch.name,
            len(keys),
            batch.project_id,
        )
        return 1

    def _finish(self, batch_id: int, state: BatchState) -> None:
        now = datetime.now(UTC)
        with self.db.transaction() as session:
            batch = session.get_one(Batch, batch_id)
            batch.state, batch.closed_at, batch.next_attempt_at = state, now, None
            batch.last_error = None
            session.execute(
                update(Job)
                .where(Job.batch_id == batch_id, Job.state == JobState.UPLOADED)
                .values(state=JobState.INGESTING, updated_at=now)
            )

    def _retry_later(self, batch: Batch, error: FlowCaptureError) -> None:
        policy = self.retry()
        now = datetime.now(UTC)
        with self.db.transaction() as session:
            row = session.get_one(Batch, batch.id)
            row.attempts += 1
            delay = backoff_seconds(
                row.attempts,
                initial=policy.backoff_initial_seconds,
                cap=policy.backoff_max_seconds,
                rng=self.rng,
            )
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.last_error = redact(str(error))
        log.warning(
            "batch close failed, retrying in %.0fs: folder=%s batch=%r: %s",
            delay,
            batch.folder,
            batch.name,
            error,
        )
