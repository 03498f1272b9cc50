"""The upload step of a job: init, parts with per-part checkpoints, complete.

Every result is committed before the next call: the upload handles after
init, each ETag as its part is accepted, the fact that complete was sent
before it goes out. A restart therefore resumes from the last commit and never
sends a part that has an ETag. The file's fingerprint is checked before
starting and again before completing, so a file that changed is never
completed as a mix.

A lost answer is expected, not exceptional. After a lost init the next try
may leave the first upload open on the service (its id never arrived; that is
logged). After a lost complete the service most likely completed the upload,
and a repeat answers NoSuchUpload: the step then reports the upload as
presumed complete (no asset id yet) and the batch close decides (see
``batches.py``).
"""

from __future__ import annotations

import base64
import logging
import threading
import uuid as uuidlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.orm import Session

from watchd.base.clock import SYSTEM_CLOCK, Clock
from watchd.base.fileversion import Fingerprint
from watchd.base.stop import Stopped, StopToken
from watchd.failpoints import failpoint
from watchd.flowcapture.budget import TransferBudgets, holding
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import (
    ConflictError,
    FlowCaptureError,
    RateLimitedError,
    UploadNotFoundError,
    outcome_unknown,
)
from watchd.flowcapture.models import UploadSession
from watchd.flowcapture.parts import Part as PlannedPart
from watchd.flowcapture.parts import choose_part_size, plan_parts
from watchd.flowcapture.upload import PartResult, upload_parts
from watchd.ingest.aborts import Aborts
from watchd.ingest.bandwidth import Throttle
from watchd.ingest.failures import RetryPolicy, retry_delay_seconds
from watchd.ingest.policy import TransferPolicy
from watchd.ingest.progress import TransferBoard
from watchd.store.database import Database
from watchd.store.models import FileHash, Job, JobState, Part
from watchd.store.operator_actions import OPERATOR_CANCEL_TEXT
from watchd.store.queries import part_rows
from watchd.store.transitions import COMPLETE_NOT_SENT, move_job

log = logging.getLogger(__name__)

# Sends of /upload/asset/complete in one attempt (then the job waits), and the waits between.
COMPLETE_RETRY = RetryPolicy(max_attempts=4, backoff_initial_seconds=0.5, backoff_max_seconds=8)


# The chain-of-custody check before complete (custody_step.py): the job, its stop token,
# digests of the file known already; returns the hashes to record, or None.
Verify = Callable[[Job, StopToken, Mapping[str, str] | None], FileHash | None]


class JobLost(Exception):
    """The job was moved elsewhere meanwhile (an operator cancelled it); the step backed off."""


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
    if not current.same_content(fingerprint_of(job)):
        raise SourceChanged(
            f"{job.path} changed since it was queued "
            f"(size {job.size} -> {current.size}); it will be queued again once it settles",
            vanished=False,
        )


def _unchanged(job: Job) -> bool:
    """Is the file still there, the version that was queued (see check_source)?"""
    try:
        check_source(job)
    except (SourceChanged, OSError):
        return False
    return True


def _check_failed(job: Job, failure: BaseException) -> None:
    """The custody check of ``job`` failed: raise SourceChanged if the file was rewritten
    meanwhile (its new version is queued again, not failed as a corrupt copy). A stop is
    the job's own (cancel, shutdown) whatever the file did: left as it is."""
    if not isinstance(failure, Stopped):
        check_source(job)


@dataclass(frozen=True)
class OpenUpload:
    """A job's multipart upload as this step drives it: handles, parts, ETags so far."""

    session: UploadSession
    parts: list[PlannedPart]
    etags: dict[int, str]  # part number -> ETag, for the parts accepted and committed
    uuid: str  # the asset uuid init was given (complete repeats it)

    @classmethod
    def of(cls, job: Job, db: Database) -> OpenUpload:
        """Return the upload recorded on ``job``, with its parts from the database."""
        with db.reading() as session:
            rows = part_rows(session, job.id)
        return cls(
            UploadSession(upload_id=job.upload_id or "", key=job.key or ""),
            [PlannedPart(number, offset, size) for number, offset, size, _ in rows],
            {number: etag for number, _, _, etag in rows if etag},
            job.uuid,
        )


@dataclass(frozen=True)
class Uploaded:
    """The outcome of a completed upload step."""

    asset_id: int | None  # None: complete's answer was lost; presumed complete
    seconds: float  # since the upload began (init), across retries and restarts


class UploadStep:
    """Runs the upload of one job to the point where it is UPLOADED."""

    def __init__(
        self,
        db: Database,
        client: FlowCaptureClient,
        transfer: Callable[[], TransferPolicy],
        board: TransferBoard,
        throttle: Throttle,
        aborts: Aborts,
        clock: Clock = SYSTEM_CLOCK,
        budgets: TransferBudgets | None = None,
        verify: Verify | None = None,
        verify_ready: Callable[[Job], bool] | None = None,
    ):
        self.db = db
        self.verify = verify  # the chain-of-custody check before complete (custody_step.py)
        self.verify_ready = verify_ready  # may it run before init, without reading the file?
        policy = transfer()
        self.budgets = budgets or TransferBudgets.sized(policy.buffer_bytes, policy.connections)
        self.client = client
        self.transfer = transfer
        self.board = board
        self.throttle = throttle
        self.aborts = aborts
        self.clock = clock

    def run(self, job: Job, stop: StopToken) -> Uploaded:
        """Upload a queued or uploading job's file up to and including complete.

        Raises JobLost when an operator cancelled meanwhile (the upload is
        aborted), Stopped, SourceChanged, or the client's and the file's errors.
        """
        if job.complete_sent_at is not None:
            resent = self._complete_again(job, stop)
            if resent is not None:
                return resent
        check_source(job)
        hashes = None  # what the custody check found, recorded with "complete sent"
        checked = False
        if job.upload_id is None and self.verify_ready is not None and self.verify_ready(job):
            # Hashed while it settled: checked before anything is sent (a mismatch sends
            # nothing; the upload is not even started).
            hashes, checked = self._verify_now(job, stop, None), True
        if job.upload_id is None:
            upload = self._init(job, stop)
        else:
            upload = OpenUpload.of(job, self.db)
            log.info(
                "upload resumed: file=%s job=%d batch=%r parts already sent %d of %d",
                job.path,
                job.id,
                job.batch.name if job.batch else None,
                len(upload.etags),
                len(upload.parts),
            )
        started = self.clock.monotonic()
        unsaved: list[PartResult] = []  # accepted parts not committed yet (a one-part file)
        # Otherwise the custody check of a file in several parts (one sequential read and
        # hash) runs while its parts go out; nothing is completed before it passed, and no
        # more parts go out once it failed (a corrupt clip is not sent whole to be refused).
        sending = stop.child()
        reading = stop.child()  # the check's own: stopped when the parts fail (it is wasted)
        several = len(upload.parts) > 1 and not checked
        checking = self._verify_alongside(job, reading, sending) if several else None
        try:
            etags = self._send_checked(job, upload, stop, unsaved, sending, checking)
        except BaseException:
            reading.stop("its parts did not all go out")
            raise
        if checking is not None:
            failure = checking.exception()  # (waits for the check to end)
            if failure is not None:
                _check_failed(job, failure)
            hashes = checking.result()  # raises on a checksum mismatch: never completed
        elif not checked and self.verify is not None:
            # A file sent as one part: that part's MD5 is the file's, no need to hash it again.
            known = {"md5": base64.b64decode(unsaved[0].md5).hex()} if unsaved else None
            hashes = self._verify_now(job, stop, known)  # raises on a mismatch
        check_source(job)
        asset_id = self._complete(job, upload, etags, unsaved, hashes, stop)
        return Uploaded(asset_id, self._seconds_since_start(job, self.clock.monotonic() - started))

    def _seconds_since_start(self, job: Job, this_run: float) -> float:
        """A resumed upload's whole time (since init), not only this run's."""
        if job.started_at is None:
            return this_run
        return max(this_run, (self.clock.now() - job.started_at).total_seconds())

    def _complete_again(self, job: Job, stop: StopToken) -> Uploaded | None:
        """Send complete again for a job whose earlier complete got no answer (lost, or the
        daemon stopped before it was recorded); None if it cannot be (a part not recorded).

        Every part and the custody hashes were committed with "complete sent", so neither
        the file nor its check is needed: what the service has, or is asked to complete,
        is the file as it was then. The source may since have changed or gone; that is a
        new version's business (the watcher queues it), not this upload's, which would
        otherwise be cancelled now that it can no longer be, and hold its batch for ever.
        """
        upload = OpenUpload.of(job, self.db)
        if len(upload.etags) != len(upload.parts):
            return None
        log.info(
            "complete sent again: file=%s job=%d batch=%r (the earlier one got no answer)",
            job.path,
            job.id,
            job.batch.name if job.batch else None,
        )
        etags = [upload.etags[part.number] for part in upload.parts]
        asset_id = self._complete(job, upload, etags, [], None, stop)
        return Uploaded(asset_id, self._seconds_since_start(job, 0.0))

    def _send_checked(
        self,
        job: Job,
        upload: OpenUpload,
        stop: StopToken,
        unsaved: list[PartResult],
        sending: StopToken,
        checking: Future[FileHash | None] | None,
    ) -> list[str]:
        """Send the parts (see :meth:`_send_parts`); raise what explains a failure: the
        job's own stop, the check alongside that stopped them, a changed source."""
        try:
            return self._send_parts(job, upload, stop, unsaved, sending)
        except Stopped:
            if stop.stopped:
                raise Stopped(stop.reason) from None  # the job's own stop (cancel, shutdown)
            failure = checking.exception() if checking is not None else None
            if failure is not None:  # what stopped the parts: the check failed
                _check_failed(job, failure)
                raise failure from None
            check_source(job)  # what stopped them: the file changed (see _send_parts)
            raise
        except UploadNotFoundError:
            log.warning(
                "upload no longer known to Flow Capture, starting over: file=%s job=%d",
                job.path,
                job.id,
            )
            self.start_over(job.id)
            raise
        except (FlowCaptureError, OSError, EOFError):
            check_source(job)  # a file cut short or rewritten explains a failed part
            raise

    def _verify_now(
        self, job: Job, stop: StopToken, known: Mapping[str, str] | None
    ) -> FileHash | None:
        """Run the custody check here (see :func:`_check_failed` for a failure)."""
        assert self.verify is not None
        try:
            return self.verify(job, stop, known)
        except Exception as exc:
            _check_failed(job, exc)
            raise

    def _verify_alongside(
        self, job: Job, stop: StopToken, sending: StopToken
    ) -> Future[FileHash | None] | None:
        """Start the custody check of ``job`` on a thread of its own (a failure stops
        ``sending``, the parts' token); None if there is none."""
        if self.verify is None:
            return None
        verify = self.verify
        checking: Future[FileHash | None] = Future()

        def run() -> None:
            try:
                hashes = verify(job, stop, None)
            except BaseException as exc:  # noqa: BLE001 - handed to the upload's thread
                checking.set_exception(exc)
                if not isinstance(exc, Stopped) and not stop.stopped:
                    sending.stop("the custody check failed")  # (not for the job's stop)
            else:
                checking.set_result(hashes)

        threading.Thread(target=run, name=f"verify-{job.id}", daemon=True).start()
        return checking

    # --- init -----------------------------------------------------------------------------

    def _init(self, job: Job, stop: StopToken) -> OpenUpload:
        part_size = choose_part_size(job.size, self.transfer().part_size)
        handles, uuid = self._init_call(job, stop)
        planned = plan_parts(job.size, part_size)
        now = self.clock.now()
        with self.db.transaction() as session:
            # The upload exists whatever happened meanwhile: record it so it can be aborted.
            # The filename is the one init named: complete must repeat it (a rename may not).
            session.connection().execute(
                _RECORD_UPLOAD,
                {
                    "b_job_id": job.id,
                    "b_upload_id": handles.upload_id,
                    "b_key": handles.key,
                    "b_part_size": part_size,
                    "b_filename": job.filename,
                },
            )
            session.connection().execute(_FORGET_PARTS, {"b_job_id": job.id})
            session.connection().execute(
                _PLAN_PARTS,
                [
                    {"job_id": job.id, "number": p.number, "offset": p.offset, "size": p.size}
                    for p in planned
                ],
            )
            ours = move_job(
                session,
                job.id,
                JobState.UPLOADING,
                allowed=(JobState.QUEUED, JobState.UPLOADING),
                now=now,
                started_at=now,
            )
        if not ours:
            self._back_off(job, "after init")
        failpoint("upload:after-init")
        log.info(
            "upload started: file=%s job=%d batch=%r size=%d parts=%d",
            job.path,
            job.id,
            job.batch.name if job.batch else None,
            job.size,
            len(planned),
        )
        return OpenUpload(handles, planned, {}, uuid)

    def _init_call(self, job: Job, stop: StopToken) -> tuple[UploadSession, str]:
        """Start the multipart upload; return its handles and the uuid it was given."""
        try:
            handles = self.client.upload_init(
                job.project_id, job.filename, job.uuid, stop=stop, calls=self.budgets.calls
            )
        except ConflictError as exc:
            # An upload with this uuid exists already: an earlier init whose answer was lost.
            fresh = str(uuidlib.uuid4())
            log.warning(
                "Flow Capture already has an upload for file=%s job=%d (%s), most likely from "
                "an earlier try whose answer was lost; that upload stays open on the service "
                "(its id never arrived) and this file goes up under a new uuid %s",
                job.path,
                job.id,
                exc,
                fresh,
            )
            with self.db.transaction() as session:
                session.execute(
                    update(Job)
                    .where(Job.id == job.id, Job.uuid == job.uuid)
                    .values(uuid=fresh)
                    .execution_options(synchronize_session=False)
                )
            handles = self.client.upload_init(
                job.project_id, job.filename, fresh, stop=stop, calls=self.budgets.calls
            )
            return handles, fresh
        except FlowCaptureError as exc:
            if outcome_unknown(exc):
                log.warning(
                    "no answer to /upload/asset/init for file=%s job=%d (%s); if Flow Capture "
                    "made the upload anyway, it may stay open there: its id never arrived",
                    job.path,
                    job.id,
                    exc,
                )
            raise
        return handles, job.uuid

    # --- parts ----------------------------------------------------------------------------

    def _send_parts(
        self,
        job: Job,
        upload: OpenUpload,
        stop: StopToken,
        unsaved: list[PartResult],
        sending: StopToken,
    ) -> list[str]:
        """Send the parts without an ETag; return every ETag in part order.

        Each accepted part is committed at once, except the only part of a
        one-part file: it goes into ``unsaved`` and is committed together with
        "complete sent" (after a crash, that one part is simply sent again).
        ``sending`` (a child of the job's ``stop``) stops the parts alone.
        """
        planned, done = upload.parts, upload.etags

        def on_part_done(result: PartResult) -> None:
            self.board.part_sent(result.size, result.seconds)
            if len(planned) == 1:
                unsaved.append(result)
                return
            self._commit_part(job.id, result, stop)
            if not _unchanged(job):  # no more of a version that is not the file any more
                sending.stop("the file changed or disappeared while it was sent")

        self.board.start(
            job.id,
            job.folder,
            job.filename,
            job.size,
            sum(p.size for p in planned if p.number in done),
        )
        try:
            etags = upload_parts(
                self.client,
                upload.session,
                Path(job.path),
                planned,
                done=done,
                parallel=self.transfer().parallel_parts,
                on_part_done=on_part_done,
                progress=lambda sent, _total: self.board.update(job.id, sent),
                on_chunk=lambda size: self.throttle.acquire(size, sending, job.folder),
                stop=sending,
                budgets=self.budgets,
            )
        finally:
            self.board.finish(job.id)
        return [etags[p.number] for p in planned]

    def _commit_part(self, job_id: int, result: PartResult, stop: StopToken) -> None:
        with self.db.transaction() as session:
            _save_parts(session, job_id, [result], self.clock.now())
            state = session.get_one(Job, job_id).state
        failpoint("upload:after-part")
        if state == JobState.CANCELLED:
            stop.stop(OPERATOR_CANCEL_TEXT)  # seen here before the cancel poll does
        log.debug("part committed: job=%d part=%d etag=%s", job_id, result.number, result.etag)

    # --- complete -------------------------------------------------------------------------

    def _complete(
        self,
        job: Job,
        upload: OpenUpload,
        etags: list[str],
        unsaved: list[PartResult],
        hashes: FileHash | None,
        stop: StopToken,
    ) -> int | None:
        """Send complete (committed as sent first, with the custody hashes); return the
        asset id, None if presumed."""
        unknown = job.complete_sent_at is not None  # an earlier send got no answer
        with ExitStack() as taken:
            # The first try's call slot is taken before "complete sent" is committed: a stop
            # while waiting for one must not leave a complete recorded as sent that never was.
            taken.enter_context(holding(self.budgets.calls, 1, stop))
            if not self._record_complete_sent(job, unsaved, hashes):
                taken.close()  # the slot back first: the abort takes one of its own
                if self._completed_elsewhere(job.id):
                    log.warning(
                        "complete of file=%s job=%d was sent by another node meanwhile (this "
                        "one lost the job's lease); left to it",
                        job.path,
                        job.id,
                    )
                    raise JobLost(f"job {job.id}: another node sent its complete meanwhile")
                self._back_off(job, "before complete")
            failpoint("upload:before-complete")
            first_slot = taken.pop_all()  # (given back when the first try ends)
        for attempt in range(1, COMPLETE_RETRY.max_attempts + 1):
            try:
                slot = first_slot if attempt == 1 else holding(self.budgets.calls, 1, stop)
                with slot:
                    asset_id = self.client.upload_complete(
                        upload.session,
                        etags,
                        filename=job.filename,
                        project_id=job.project_id,
                        batch_name=job.batch.name if job.batch else None,
                        uuid=upload.uuid,
                        stop=stop,
                    )
            except UploadNotFoundError:
                if unknown:
                    self._log_presumed(job)
                    return None
                self.start_over(job.id)
                raise
            except FlowCaptureError as exc:
                unknown = unknown or outcome_unknown(exc)
                if not exc.retryable or attempt == COMPLETE_RETRY.max_attempts:
                    if not unknown:
                        self._complete_refused(job.id)
                    raise
                delay = retry_delay_seconds(attempt, COMPLETE_RETRY, None)
                if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)  # the service asked for this wait
                log.warning(
                    "complete of file=%s job=%d failed (%s); trying again in %.1fs",
                    job.path,
                    job.id,
                    exc,
                    delay,
                )
                stop.sleep(delay)
            else:
                failpoint("upload:after-complete")  # the server completed; not committed yet
                return asset_id
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _record_complete_sent(
        self, job: Job, unsaved: list[PartResult], hashes: FileHash | None
    ) -> bool:
        """Commit "complete sent" (with a one-part file's part and the custody hashes);
        return False when the job is no longer ours (moved elsewhere: not sent)."""
        with self.db.transaction() as session:
            _save_parts(session, job.id, unsaved, self.clock.now())
            if hashes is not None:  # a file hashed again (changed, retried) replaces its row
                session.connection().execute(_FORGET_HASHES, {"b_job_id": job.id})
                session.connection().execute(_RECORD_HASHES, _columns_of(hashes))
            ours = move_job(
                session,
                job.id,
                None,
                allowed=(JobState.UPLOADING,),
                now=self.clock.now(),
                # a first send: not if another node (taking over) sent one meanwhile
                when=COMPLETE_NOT_SENT if job.complete_sent_at is None else None,
                complete_sent_at=self.clock.now(),
            )
        return ours

    def _completed_elsewhere(self, job_id: int) -> bool:
        """Has another node (that took the job over) sent complete? Its upload is not ours
        to abort then."""
        with self.db.reading() as session:
            row = session.get_one(Job, job_id)
            return row.complete_sent_at is not None or row.uploaded_at is not None

    def _log_presumed(self, job: Job) -> None:
        log.warning(
            "the answer to /upload/asset/complete for file=%s job=%d was lost and Flow Capture "
            "no longer knows the upload, so it most likely completed it: the file is closed "
            "with its batch, and uploaded again only if that close refuses it",
            job.path,
            job.id,
        )

    def _complete_refused(self, job_id: int) -> None:
        """Forget that complete was sent: the service answered and did not act on it."""
        with self.db.transaction() as session:
            move_job(
                session,
                job_id,
                None,
                allowed=(JobState.UPLOADING,),
                now=self.clock.now(),
                complete_sent_at=None,
            )

    # --- helpers --------------------------------------------------------------------------

    def _back_off(self, job: Job, where: str) -> None:
        """The job is no longer ours (cancelled): abort what was started, raise JobLost."""
        log.info("cancelled %s: file=%s job=%d; aborting its upload", where, job.path, job.id)
        self.aborts.abort(job.id)
        raise JobLost(f"job {job.id} was moved elsewhere {where}")

    def start_over(self, job_id: int) -> None:
        """Forget the job's multipart upload (it no longer exists); the next try starts afresh.

        Only a job still queued or uploading: one moved on meanwhile (by another node
        that took it over and completed it) keeps its upload, which its batch needs.
        """
        with self.db.transaction() as session:
            if not move_job(
                session,
                job_id,
                JobState.QUEUED,
                allowed=(JobState.QUEUED, JobState.UPLOADING),
                now=self.clock.now(),
            ):
                return
            session.connection().execute(_FORGET_PARTS, {"b_job_id": job_id})
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(upload_id=None, key=None, part_size=None, complete_sent_at=None)
                .execution_options(synchronize_session=False)
            )


# The statements of every upload, built once (a hot path with many small files).
_RECORD_UPLOAD = (
    update(Job)
    .where(Job.id == bindparam("b_job_id"))
    .values(
        upload_id=bindparam("b_upload_id"),
        key=bindparam("b_key"),
        part_size=bindparam("b_part_size"),
        filename=bindparam("b_filename"),
        complete_sent_at=None,
    )
)
_FORGET_PARTS = delete(Part).where(Part.job_id == bindparam("b_job_id"))
_PLAN_PARTS = insert(Part)
_FORGET_HASHES = delete(FileHash).where(FileHash.job_id == bindparam("b_job_id"))
_RECORD_HASHES = insert(FileHash)  # not session.merge: that reads the row first
_SAVE_PART = (
    update(Part)
    .where(Part.job_id == bindparam("b_job_id"), Part.number == bindparam("b_number"))
    .values(md5=bindparam("b_md5"), etag=bindparam("b_etag"), done_at=bindparam("b_done_at"))
)


def _columns_of(row: FileHash) -> dict[str, object]:
    """Return the column values of an unsaved ``row``, for a Core insert."""
    return {column.key: getattr(row, column.key) for column in FileHash.__table__.columns}


def _save_parts(session: Session, job_id: int, results: list[PartResult], now: datetime) -> None:
    """Commit accepted parts' ETags (within the caller's transaction)."""
    if results:
        session.connection().execute(
            _SAVE_PART,
            [
                {
                    "b_job_id": job_id,
                    "b_number": r.number,
                    "b_md5": r.md5,
                    "b_etag": r.etag,
                    "b_done_at": now,
                }
                for r in results
            ],
        )
