"""Closing batches: one /complete/upload per batch, with exactly its uploaded keys.

A batch closes when no file has joined it for the folder's ``batch.idle`` and
every member is past uploading (uploaded, or failed/cancelled for good). It is
first marked ``closing`` (no file joins it any more), then /complete/upload is
sent and retried with backoff until accepted; then its uploaded members move
on to ``ingesting``.

Lost answers:

- Before /complete/upload goes out, ``close_sent_at`` is committed. If no
  answer comes (reset, timeout, 5xx, a crash), the next try first looks for
  the members in the folder's listing: any member listed means the first call
  was acted on, and it is not sent again. Only when none shows up within
  ``UNCERTAIN_CLOSE_PATIENCE_SECONDS`` is it sent again.
- A member whose /upload/asset/complete answer was lost has no asset id: it
  is presumed complete and closed with its batch. If the close refuses its key
  (the service never completed that upload), that member starts its upload
  over and the batch is closed again at once with the other keys.
"""

from __future__ import annotations

import enum
import logging
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from watchd.base.clock import CLOCK_SLACK, SYSTEM_CLOCK, Clock
from watchd.base.events import Event, EventKind, EventSink, ignore_events
from watchd.base.fileversion import Fingerprint
from watchd.base.stop import StopToken
from watchd.config.units import format_duration
from watchd.failpoints import failpoint
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import (
    BadRequestError,
    FlowCaptureError,
    RateLimitedError,
    outcome_unknown,
)
from watchd.flowcapture.redact import redact
from watchd.ingest.failures import RetryPolicy, longest_wait, retry_delay_seconds
from watchd.ingest.presence import AssetPresence, Sought
from watchd.store.database import Database
from watchd.store.models import Batch, BatchState, Job, JobState, Part
from watchd.store.operator_actions import OPERATOR_CANCEL_TEXT
from watchd.store.queries import lock_folder_queue
from watchd.store.transitions import move_job, move_jobs

log = logging.getLogger(__name__)

# Members in these states still hold their batch open.
ACTIVE_STATES = (JobState.QUEUED, JobState.UPLOADING, JobState.WAITING)
HOLD_MAX_SECONDS = 3600.0  # longest a batch past its idle time waits for a file being written
UNCERTAIN_CLOSE_PATIENCE_SECONDS = 180.0  # wait for a lost close's members to be listed
UNCERTAIN_CLOSE_POLL_SECONDS = 5.0  # how often the listing is searched meanwhile


class Earlier(enum.Enum):
    """What became of a /complete/upload whose answer was lost."""

    ACTED_ON = "acted on"  # members are listed: the batch is closed
    UNKNOWN_YET = "unknown yet"  # not listed yet: look again later
    SEND_AGAIN = "send again"  # not listed after the patience: send it again


@dataclass(frozen=True)
class Member:
    """An uploaded member of a batch, as the close needs it."""

    job_id: int
    key: str
    uuid: str
    asset_id: int | None  # None: complete's answer was lost
    path: str
    filename: str
    sent: Fingerprint  # the version uploaded

    @property
    def presumed(self) -> bool:
        """True when complete's answer was lost (no asset id yet)."""
        return self.asset_id is None

    def superseded(self) -> str | None:
        """How its file changed since the version uploaded, if it did (None: it did not,
        or it cannot be seen: gone, a share not mounted). Such a version, uploaded while
        the file was still being written with pauses (or copied again), is not the file."""
        try:
            now = Fingerprint.of(os.stat(self.path))
        except OSError:
            return None
        if now.same_content(self.sent):
            return None
        return f"{self.sent.size} bytes when uploaded, {now.size} now"


def _quiet_for(seconds: float, last_file_at: datetime, now: datetime) -> bool:
    """Has no file joined a batch for ``seconds`` by ``now``?"""
    return now - last_file_at >= timedelta(seconds=seconds)


class BatchCloser:
    """Finds batches ready to close and closes them."""

    def __init__(
        self,
        db: Database,
        client: FlowCaptureClient,
        idle_seconds: Callable[[str], float | None],
        retry: Callable[[], RetryPolicy],
        stop: StopToken,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        events: EventSink = ignore_events,
        on_closed: Callable[[str, str, list[int]], object] | None = None,
    ):
        self.db = db
        self.events = events  # told of each batch closed (notifications)
        # Given each closed batch's folder, name and members moved on to ingesting.
        self.on_closed = on_closed
        self.client = client
        self.idle_seconds = idle_seconds  # by folder name; None: folder not configured
        self.retry = retry
        self.stop = stop
        self.clock = clock
        self.rng = rng or random.Random()
        self.presence = AssetPresence(client, clock.monotonic)
        # By folder name: the batches files still being written will join, each with one
        # such file (set by the daemon, which watches them): such a batch stays open for
        # them, up to HOLD_MAX_SECONDS past its idle time.
        self.arriving: Callable[[str], Mapping[str, str]] = lambda _folder: {}
        self._held: set[int] = set()  # batches said (once) to stay open for a file

    def run_once(self, clock_set_back: bool = False) -> int:
        """Mark ready batches closing and send the due ones; return how many closed.

        ``clock_set_back``: the system clock went back (or may have, before this
        start): retries set further off than any wait watchd sets are due too.
        """
        now = self.clock.now()
        self._mark_closing(now)
        closed = 0
        for batch_id in self._due(now, clock_set_back):
            if self.stop.stopped:
                break
            closed += self._close(batch_id)
        return closed

    def _mark_closing(self, now: datetime) -> None:
        with self.db.reading() as session:
            candidates = session.execute(
                select(Batch.folder, Batch.last_file_at).where(Batch.state == BatchState.OPEN)
            ).all()
        folders = {
            folder
            for folder, last in candidates
            if (idle := self.idle_seconds(folder)) is not None
            and (last > now + CLOCK_SLACK or _quiet_for(idle, last, now))
        }
        if not folders:
            self._held.clear()  # (none is held open now)
            return  # nothing past its idle time (nor from before the clock went back)
        arriving = {folder: self.arriving(folder) for folder in folders}  # (outside the lock)
        with self.db.transaction() as session:
            for batch in session.scalars(select(Batch).where(Batch.state == BatchState.OPEN)):
                idle = self.idle_seconds(batch.folder)
                if idle is None:
                    continue  # another node's folder, or one no longer configured
                if batch.last_file_at > now + CLOCK_SLACK:
                    log.warning(
                        "the system clock went back: batch=%r had its last file at %s, "
                        "later than now; its idle time counts from now",
                        batch.name,
                        batch.last_file_at.isoformat(timespec="seconds"),
                    )
                    batch.last_file_at = now
                if not _quiet_for(idle, batch.last_file_at, now):
                    continue
                lock_folder_queue(session, batch.folder)  # no file joins it meanwhile (shared)
                session.refresh(batch)
                if batch.state != BatchState.OPEN or not _quiet_for(idle, batch.last_file_at, now):
                    continue
                busy = session.scalar(
                    select(Job.id)
                    .where(Job.batch_id == batch.id, Job.state.in_(ACTIVE_STATES))
                    .limit(1)
                )
                if busy is not None or self._held_open(batch, arriving, now, idle):
                    continue
                batch.state = BatchState.CLOSING
                batch.next_attempt_at = now

    def _held_open(
        self, batch: Batch, arriving: Mapping[str, Mapping[str, str]], now: datetime, idle: float
    ) -> bool:
        """Does a file still being written hold ``batch`` open (and it has not waited
        HOLD_MAX_SECONDS past its idle time for it yet)?"""
        writing = arriving.get(batch.folder, {}).get(batch.name)
        if writing is None or _quiet_for(idle + HOLD_MAX_SECONDS, batch.last_file_at, now):
            self._held.discard(batch.id)
            return False
        if batch.id not in self._held:
            self._held.add(batch.id)
            left = batch.last_file_at + timedelta(seconds=idle + HOLD_MAX_SECONDS) - now
            log.info(
                "batch stays open: folder=%s batch=%r file=%s is still being written and will "
                "join it (the batch closes once it has, or in %s at the latest)",
                batch.folder,
                batch.name,
                writing,
                format_duration(round(left.total_seconds())),
            )
        return True

    def _due(self, now: datetime, clock_set_back: bool) -> list[int]:
        """Closing batches due for a try, of the folders this closer serves."""
        due = Batch.next_attempt_at <= now
        if clock_set_back:
            due = due | (Batch.next_attempt_at > now + longest_wait(self.retry()))
        with self.db.reading() as session:
            rows = session.execute(
                select(Batch.id, Batch.folder)
                .where(Batch.state == BatchState.CLOSING, due)
                .order_by(Batch.id)
            )
            return [batch_id for batch_id, folder in rows if self.idle_seconds(folder) is not None]

    # --- closing one batch ----------------------------------------------------------------

    def _close(self, batch_id: int) -> int:
        with self.db.reading() as session:
            batch = session.get_one(Batch, batch_id)
            members = _members(session, batch_id)
        if batch.close_sent_at is not None and members:
            earlier = self._earlier_close(batch, members)
            if earlier != Earlier.SEND_AGAIN:
                return 1 if earlier == Earlier.ACTED_ON else 0
        elif members:
            members = self._without_superseded(batch, members)
        sent = batch.close_sent_at
        while members:
            failpoint("batch:before-complete-upload")
            sent = self._mark_sent(batch_id, sent)
            if sent is None:
                log.debug("batch=%r: another closer is sending it", batch.name)
                return 0
            try:
                accepted = self.client.complete_upload(
                    batch.project_id, [m.key for m in members], batch.name, stop=self.stop
                )
                if not accepted:
                    raise FlowCaptureError("/complete/upload answered ok=false")
            except BadRequestError as exc:
                named = [m for m in members if m.key in str(exc)]
                # Those named: presumed ones uploaded again, confirmed ones failed. None
                # named: every presumed member is taken as refused (the confirmed ones were
                # completed and cannot be the cause); with none presumed, tried again later.
                restart = [m for m in named if m.presumed] if named else _presumed(members)
                reject = [m for m in named if not m.presumed]
                if not restart and not reject:
                    self._retry_later(batch, exc, answered=True)
                    return 0
                if restart:
                    self._start_over(batch, restart, exc)
                if reject:
                    self._reject(batch, reject, exc)
                members = [m for m in members if m not in restart and m not in reject]
                continue
            except FlowCaptureError as exc:
                self._retry_later(batch, exc, answered=not outcome_unknown(exc))
                return 0
            failpoint("batch:after-complete-upload")  # accepted by the server, not committed
            self._finish(batch_id, BatchState.CLOSED, members)
            log.info(
                "batch closed: folder=%s batch=%r files=%d project=%s",
                batch.folder,
                batch.name,
                len(members),
                batch.project_id,
            )
            self._closed(batch, members)
            return 1
        self._finish(batch_id, BatchState.EMPTY, [])
        log.info("batch closed empty: folder=%s batch=%r", batch.folder, batch.name)
        return 0

    def _closed(self, batch: Batch, members: list[Member]) -> None:
        """Tell of the closed batch; have its members with nothing left to do finished."""
        self._tell_closed(batch, members)
        failpoint("batch:after-close")  # closed and committed; members not finished together
        if self.on_closed is None:
            return
        try:
            self.on_closed(batch.folder, batch.name, [m.job_id for m in members])
        except Exception as exc:  # noqa: BLE001 - the members still finish one by one
            first = (str(exc).splitlines() or [type(exc).__name__])[0]  # not SQL with 500 values
            log.warning(
                "batch=%r: its files could not be finished together (%s); "
                "they are finished one by one",
                batch.name,
                redact(first),
            )

    def _tell_closed(self, batch: Batch, members: list[Member]) -> None:
        self.events(
            Event(
                EventKind.BATCH_DONE,
                f"batch {batch.name!r} of {batch.folder} closed: {len(members)} file(s)",
                folder=batch.folder,
                batch=batch.name,
                batch_id=batch.id,
                files=len(members),
                asset_ids=tuple(m.asset_id for m in members if m.asset_id is not None),
            )
        )

    def _earlier_close(self, batch: Batch, members: list[Member]) -> Earlier:
        """After a close whose answer was lost: was it acted on? Closes the batch if so."""
        now = self.clock.now()
        try:
            listed = self.presence.any_listed(
                batch.project_id,
                [Sought(m.asset_id, m.uuid, m.filename, batch.name) for m in members],
                self.stop,
            )
        except FlowCaptureError as exc:
            self._retry_later(batch, exc, answered=False)
            return Earlier.UNKNOWN_YET
        if listed:
            self._finish(batch.id, BatchState.CLOSED, members)
            log.info(
                "batch closed: folder=%s batch=%r files=%d project=%s "
                "(the earlier /complete/upload was acted on although its answer was lost)",
                batch.folder,
                batch.name,
                len(members),
                batch.project_id,
            )
            self._closed(batch, members)
            return Earlier.ACTED_ON
        assert batch.close_sent_at is not None
        if batch.close_sent_at > now + CLOCK_SLACK:  # sent before the clock went back
            with self.db.transaction() as session:
                session.get_one(Batch, batch.id).close_sent_at = now  # patience from now
            batch.close_sent_at = now
        waited = (now - batch.close_sent_at).total_seconds()
        if waited >= UNCERTAIN_CLOSE_PATIENCE_SECONDS:
            log.warning(
                "batch=%r: no member listed %.0fs after a /complete/upload whose answer was "
                "lost; sending it again",
                batch.name,
                waited,
            )
            return Earlier.SEND_AGAIN
        with self.db.transaction() as session:
            session.get_one(Batch, batch.id).next_attempt_at = now + timedelta(
                seconds=UNCERTAIN_CLOSE_POLL_SECONDS
            )
        return Earlier.UNKNOWN_YET

    def _mark_sent(self, batch_id: int, before: datetime | None) -> datetime | None:
        """Record the close as sent now, if its "sent" mark is still ``before``: return the
        new mark, or None when another closer (a node that took the folder over) changed it
        meanwhile, so only one sends."""
        now = self.clock.now()
        with self.db.transaction() as session:
            claimed = session.execute(
                update(Batch)
                .where(
                    Batch.id == batch_id,
                    Batch.state == BatchState.CLOSING,
                    Batch.close_sent_at.is_(None)
                    if before is None
                    else Batch.close_sent_at == before,
                )
                .values(close_sent_at=now)
                .execution_options(synchronize_session=False)
            )
        return now if getattr(claimed, "rowcount", 0) == 1 else None

    def _finish(self, batch_id: int, state: BatchState, members: list[Member]) -> None:
        now = self.clock.now()
        with self.db.transaction() as session:
            batch = session.get_one(Batch, batch_id)
            batch.state, batch.closed_at, batch.next_attempt_at = state, now, None
            batch.last_error, batch.close_sent_at = None, None
            if members:
                move_jobs(
                    session,
                    JobState.INGESTING,
                    allowed=(JobState.UPLOADED,),
                    now=now,
                    where=Job.id.in_([m.job_id for m in members]),
                )

    def _start_over(self, batch: Batch, refused: list[Member], error: FlowCaptureError) -> None:
        """The close refused these presumed-complete keys: upload those files again."""
        self._forget_uploads(refused, JobState.QUEUED, None)
        for member in refused:
            log.warning(
                "batch=%r refused file=%s job=%d (%s): its upload was not completed after "
                "all; it is uploaded again in a new batch",
                batch.name,
                member.path,
                member.job_id,
                error,
            )

    def _without_superseded(self, batch: Batch, members: list[Member]) -> list[Member]:
        """Leave out of the close the members whose file changed after their upload: a
        newer version (queued when it settles) goes up instead, and the batch gets the
        file once, as it ends up. Their uploads are never put into Flow Capture."""
        changed: list[tuple[Member, str]] = []
        for member in members:
            if self.stop.stopped:  # (thousands of stats on a slow share: a stop ends them)
                return members
            why = member.superseded()
            if why is not None:
                changed.append((member, why))
        for member, why in changed:  # (a retry uploads it afresh: nothing of it stays)
            self._forget_uploads(
                [member],
                JobState.CANCELLED,
                f"superseded: the file changed after its upload ({why}), before its batch "
                "closed; its new version goes up instead",
            )
            log.warning(
                "superseded: file=%s job=%d changed after its upload (%s), before its batch "
                "closed: left out of batch=%r; its new version goes up instead",
                member.path,
                member.job_id,
                why,
                batch.name,
            )
        left_out = {member.job_id for member, _ in changed}
        return [m for m in members if m.job_id not in left_out]

    def _reject(self, batch: Batch, refused: list[Member], error: FlowCaptureError) -> None:
        """The close refused these confirmed uploads by name: fail them (a retry uploads them
        again, afresh) and close the batch without them, rather than hold it for ever."""
        reason = (
            f"Flow Capture refused it when its batch {batch.name!r} closed: {redact(str(error))}"
        )
        self._forget_uploads(refused, JobState.FAILED, reason)
        for member in refused:
            log.error(
                "failed: file=%s job=%d: %s; the batch closes without it; `watchd retry %d` "
                "uploads it again",
                member.path,
                member.job_id,
                reason,
                member.job_id,
            )
            self.events(
                Event(
                    EventKind.FILE_FAILED,
                    f"{member.path} failed for good: {reason} "
                    f"(`watchd retry {member.job_id}` uploads it again)",
                    folder=batch.folder,
                    batch=batch.name,
                    files=1,
                    errors=(f"{member.path}: {reason}",),
                )
            )

    def _forget_uploads(self, members: list[Member], target: JobState, reason: str | None) -> None:
        """Forget the completed uploads of ``members`` and move them to ``target`` (queued to
        go up again, failed, cancelled) with ``reason`` (an operator's cancel meanwhile
        stands either way)."""
        now = self.clock.now()
        with self.db.transaction() as session:
            for member in members:
                session.execute(delete(Part).where(Part.job_id == member.job_id))
                job = session.get_one(Job, member.job_id)
                cancelled = job.operator_cancelled_at is not None
                session.execute(
                    update(Job)
                    .where(Job.id == member.job_id)
                    .values(upload_id=None, key=None, part_size=None, complete_sent_at=None)
                    .execution_options(synchronize_session=False)
                )
                move_job(
                    session,
                    member.job_id,
                    JobState.CANCELLED if cancelled else target,
                    allowed=(JobState.UPLOADED,),
                    now=now,
                    uploaded_at=None,
                    asset_id=None,
                    last_error=OPERATOR_CANCEL_TEXT if cancelled else reason,
                )

    def _retry_later(self, batch: Batch, error: FlowCaptureError, *, answered: bool) -> None:
        now = self.clock.now()
        with self.db.transaction() as session:
            row = session.get_one(Batch, batch.id)
            row.attempts += 1
            delay = retry_delay_seconds(row.attempts, self.retry(), self.rng)
            if isinstance(error, RateLimitedError) and error.retry_after is not None:
                delay = max(delay, error.retry_after)  # the service asked for this wait
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.last_error = redact(str(error))
            if answered:  # the service answered: it did not act on the close
                row.close_sent_at = None
        if answered:
            log.warning(
                "batch close failed, retrying in %.0fs: folder=%s batch=%r: %s",
                delay,
                batch.folder,
                batch.name,
                error,
            )
            return
        log.warning(
            "batch close not confirmed (%s): folder=%s batch=%r; Flow Capture may have acted "
            "on it: its files are looked for in %.0fs, and it is sent again if none is listed "
            "%.0fs after it went",
            error,
            batch.folder,
            batch.name,
            delay,
            UNCERTAIN_CLOSE_PATIENCE_SECONDS,
        )


def _members(session: Session, batch_id: int) -> list[Member]:
    rows = session.execute(
        select(
            Job.id,
            Job.key,
            Job.uuid,
            Job.asset_id,
            Job.path,
            Job.filename,
            Job.device,
            Job.inode,
            Job.size,
            Job.mtime_ns,
        )
        .where(Job.batch_id == batch_id, Job.state == JobState.UPLOADED, Job.key.is_not(None))
        .order_by(Job.id)
    )
    return [
        Member(job_id, key or "", uuid, asset_id, path, name, Fingerprint(dev, ino, size, mtime))
        for job_id, key, uuid, asset_id, path, name, dev, ino, size, mtime in rows
    ]


def _presumed(members: list[Member]) -> list[Member]:
    """The members whose complete's answer was lost (no asset id yet)."""
    return [m for m in members if m.presumed]
