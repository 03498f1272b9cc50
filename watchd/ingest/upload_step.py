"""The upload step of a job: init, parts with per-part checkpoints, complete.

Every result is committed before the next call: the upload handles after
init, each ETag as its part is accepted, the asset id after complete. A
restart therefore resumes from the last commit and never sends a part that
has an ETag. The file's fingerprint is checked before starting and again
before completing, so a file that changed is never completed as a mix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, update

from watchd.failpoints import failpoint
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import FlowCaptureError, UploadNotFoundError
from watchd.flowcapture.models import UploadSession
from watchd.flowcapture.parts import Part as PlannedPart
from watchd.flowcapture.parts import choose_part_size, plan_parts
from watchd.flowcapture.upload import PartResult, upload_parts
from watchd.ingest.policy import TransferPolicy
from watchd.ingest.progress import TransferBoard
from watchd.store.database import Database
from watchd.store.models import Job, JobState, Part
from watchd.watch.stability import Fingerprint

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """An operator cancelled the job while it was uploading."""


class SourceChanged(Exception):
    """The file is gone or is not the version that was queued."""

    def __init__(self, message: str, *, vanished: bool):
        super().__init__(message)
        self.vanished = vanished


def fingerprint_of(job: Job) -> Fingerprint:
    """Return the fingerprint recorded when the job was queued."""
    return Fingerprint(job.device, job.inode, job.size, job.mtime_ns)


def check_source(job: Job) -> None:
    """Raise SourceChanged unless the file still is the version that was queued."""
    try:
        current = Fingerprint.of(Path(job.path).stat())
    except FileNotFoundError:
        raise SourceChanged(f"{job.path} disappeared", vanished=True) from None
    if not current.same_version(fingerprint_of(job)):
        raise SourceChanged(
            f"{job.path} changed since it was queued "
            f"(size {job.size} -> {current.size}); it will be queued again once it settles",
            vanished=False,
        )


class UploadStep:
    """Runs the upload of one job to the point where it is UPLOADED."""

    def __init__(
        self,
        db: Database,
        client: FlowCaptureClient,
        transfer: Callable[[], TransferPolicy],
        board: TransferBoard,
        on_chunk: Callable[[int], None],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.db = db
        self.client = client
        self.transfer = transfer
        self.board = board
        self.on_chunk = on_chunk
        self.clock = clock

    def run(self, job: Job) -> int:
        """Upload ``job``'s file; return the asset id. Raises on any failure."""
        check_source(job)
        if job.upload_id is None:
            job = self._init(job)
        started = self.clock()
        try:
            etags = self._send_parts(job)
        except UploadNotFoundError:
            log.warning(
                "upload no longer known to Flow Capture, starting over: file=%s job=%d",
                job.path,
                job.id,
            )
            self.reset(job.id, state=JobState.QUEUED)
            raise
        except (FlowCaptureError, OSError, EOFError):
            check_source(job)  # a file cut short or rewritten explains a failed part
            raise
        check_source(job)
        failpoint("upload:before-complete")
        asset_id = self.client.upload_complete(
            UploadSession(upload_id=job.upload_id or "", key=job.key or ""),
            etags,
            filename=job.filename,
            project_id=job.project_id,
            batch_name=job.batch.name if job.batch else None,
            uuid=job.uuid,
        )
        failpoint("upload:after-complete")  # the server completed; not committed yet
        _log_uploaded(job, self.clock() - started)
        return asset_id

    def _init(self, job: Job) -> Job:
        part_size = choose_part_size(job.size, self.transfer().part_size)
        upload = self.client.upload_init(job.project_id, job.filename, job.uuid)
        now = datetime.now(UTC)
        with self.db.transaction() as session:
            row = session.get_one(Job, job.id)
            row.upload_id, row.key, row.part_size = upload.upload_id, upload.key, part_size
            row.state, row.started_at, row.updated_at = JobState.UPLOADING, now, now
            for planned in plan_parts(job.size, part_size):
                session.add(
                    Part(job=row, number=planned.number, offset=planned.offset, size=planned.size)
                )
            session.flush()
            _ = row.batch, row.parts  # load both before the session closes
        failpoint("upload:after-init")
        log.info(
            "upload started: file=%s job=%d batch=%r size=%d parts=%d",
            job.path,
            job.id,
            row.batch.name if row.batch else None,
            job.size,
            len(row.parts),
        )
        return row

    def _send_parts(self, job: Job) -> list[str]:
        planned = [PlannedPart(p.number, p.offset, p.size) for p in job.parts]
        done = {p.number: p.etag for p in job.parts if p.etag}
        self.board.start(
            job.id, job.folder, job.filename, job.size, sum(p.size for p in job.parts if p.etag)
        )
        try:
            etags = upload_parts(
                self.client,
                UploadSession(upload_id=job.upload_id or "", key=job.key or ""),
                Path(job.path),
                planned,
                done=done,
                parallel=self.transfer().parallel_parts,
                on_part_done=lambda result: self._commit_part(job.id, result),
                progress=lambda sent, _total: self.board.update(job.id, sent),
                on_chunk=self.on_chunk,
            )
        finally:
            self.board.finish(job.id)
        return [etags[p.number] for p in planned]

    def _commit_part(self, job_id: int, result: PartResult) -> None:
        now = datetime.now(UTC)
        with self.db.transaction() as session:
            session.execute(
                update(Part)
                .where(Part.job_id == job_id, Part.number == result.number)
                .values(md5=result.md5, etag=result.etag, done_at=now)
            )
            state = session.get_one(Job, job_id).state
        failpoint("upload:after-part")
        if state == JobState.CANCELLED:
            raise JobCancelled(f"job {job_id} was cancelled")
        log.debug("part committed: job=%d part=%d etag=%s", job_id, result.number, result.etag)

    def reset(self, job_id: int, *, state: JobState) -> None:
        """Forget a job's multipart upload (the next attempt starts afresh), leave it in ``state``.

        A job that is not uploading any more (another state meanwhile) keeps its state.
        """
        with self.db.transaction() as session:
            session.execute(delete(Part).where(Part.job_id == job_id))
            row = session.get_one(Job, job_id)
            row.upload_id = row.key = None
            row.part_size = None
            if row.state in (JobState.QUEUED, JobState.UPLOADING):
                row.state = state
            row.updated_at = datetime.now(UTC)

    def abort(self, job_id: int) -> None:
        """Abort the job's multipart upload on the server, if it has one (best effort)."""
        with self.db.reading() as session:
            row = session.get_one(Job, job_id)
            upload_id, key = row.upload_id, row.key
        if upload_id is None or key is None:
            return
        try:
            self.client.upload_abort(UploadSession(upload_id=upload_id, key=key))
        except UploadNotFoundError:
            pass  # already gone: nothing left behind
        except FlowCaptureError as exc:
            log.warning("could not abort upload of job=%d (tried again later): %s", job_id, exc)
            return
        else:
            log.info("upload aborted: job=%d", job_id)
        with self.db.transaction() as session:
            row = session.get_one(Job, job_id)
            if row.upload_id == upload_id:
                row.upload_id = row.key = None


def _log_uploaded(job: Job, seconds: float) -> None:
    rate = job.size / seconds if seconds > 0 else 0.0
    log.info(
        "uploaded: file=%s job=%d batch=%r size=%d duration=%.1fs rate=%.1fMB/s",
        job.path,
        job.id,
        job.batch.name if job.batch else None,
        job.size,
        seconds,
        rate / 1e6,
    )
