"""The last steps of a job after its batch closed: metadata, then the post-upload action.

The metadata is committed as sent (``tagged_at``) before the source is touched.
The source is only moved or deleted once the asset is listed in Flow Capture
and if it is still the file that was uploaded. Starting the move or delete is
a guarded write (``source_action_at``) that an operator's cancel races
against: whichever comes first wins, so a cancelled job's source is never
touched. An upload presumed complete (its complete answer was lost) waits
for its asset to be listed too, whatever the folder does afterwards.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from watchd.base.clock import SYSTEM_CLOCK, Clock
from watchd.base.stop import StopToken
from watchd.failpoints import failpoint
from watchd.flowcapture.budget import Budget
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.failures import FolderUnavailable
from watchd.ingest.metadata import metadata_for
from watchd.ingest.policy import DELETE, FolderPolicy
from watchd.ingest.post_upload import delete_source, move_source, moved_earlier, source_unchanged
from watchd.ingest.presence import AssetPresence, Sought
from watchd.ingest.upload_step import fingerprint_of
from watchd.store.database import Database
from watchd.store.models import Job, JobState
from watchd.store.queries import ARCHIVE_FAILED
from watchd.store.transitions import NOT_CANCELLED_BY_OPERATOR, move_job

log = logging.getLogger(__name__)


def sought_of(job: Job, asset_id: int | None) -> Sought:
    """Return what identifies ``job``'s asset in a listing."""
    return Sought(asset_id, job.uuid, job.filename, job.batch.name if job.batch else None)


def nothing_to_finish(folder: FolderPolicy) -> bool:
    """True if a job of ``folder`` whose asset id is known is done once its batch closed.

    No tags or metadata to send, and the source stays where it is: the finish
    step would only record the job as done (see ``JobRunner.finish_together``).
    """
    return (
        not folder.tags
        and not folder.fields
        and folder.from_path is None
        and folder.move_to is None
        and folder.after_upload != DELETE
    )


class AssetNotReady(Exception):
    """Flow Capture has not finished processing the asset: look again soon."""


@dataclass(frozen=True)
class Finished:
    """What the finish step did."""

    asset_id: int | None  # as listed (filled in for an upload presumed complete)
    archived_to: str | None  # where the source went; None if it stayed
    tagged_at: datetime | None = None  # when tagged, if not committed yet (the caller does)


class FinishStep:
    """Tags the asset and carries out the folder's post-upload action."""

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
        self.presence = AssetPresence(client, clock.monotonic)

    def run(self, job: Job, folder: FolderPolicy, stop: StopToken) -> Finished:
        """Finish ``job``; raises AssetNotReady, Stopped or the client's errors.

        Everything works from the asset id complete returned. When that answer
        was lost, the asset is first found in the listing (see presence.py) and
        its id recorded. Tagging is committed on its own only when the job may
        have to wait (for its asset to be listed), so the waits do not tag
        again; otherwise the caller commits it with the job's last move.
        """
        acts = folder.move_to is not None or folder.after_upload == DELETE
        asset_id = job.asset_id if job.asset_id is not None else self._find_presumed(job, stop)
        tagged_now = None
        if job.tagged_at is None:
            self._tag(job, asset_id, folder, stop)
            tagged_now = self.clock.now()
            if acts:
                with self.db.transaction() as session:
                    session.get_one(Job, job.id).tagged_at = tagged_now
                tagged_now = None
        if acts and self.presence.find(job.project_id, sought_of(job, asset_id), (), stop) is None:
            raise AssetNotReady(f"asset {asset_id} is not listed yet")
        if not acts:
            return Finished(asset_id, None, tagged_now)
        return Finished(asset_id, self._post_upload(job, folder, stop))

    def _find_presumed(self, job: Job, stop: StopToken) -> int:
        """Return the asset id of an upload presumed complete, once listed (and record it)."""
        with self.db.reading() as session:
            rows = session.scalars(
                select(Job.asset_id).where(
                    Job.project_id == job.project_id, Job.asset_id.is_not(None), Job.id != job.id
                )
            )
            taken = {asset_id for asset_id in rows if asset_id is not None}
        asset = self.presence.find(job.project_id, sought_of(job, None), taken, stop)
        if asset is None:
            raise AssetNotReady(f"the asset of {job.filename} (uuid {job.uuid}) is not listed yet")
        with self.db.transaction() as session:
            session.get_one(Job, job.id).asset_id = asset.id
        log.info("presumed upload found: file=%s job=%d asset=%d", job.path, job.id, asset.id)
        return asset.id

    def _tag(self, job: Job, asset_id: int, folder: FolderPolicy, stop: StopToken) -> None:
        meta = metadata_for(job.relpath, folder.tags, folder.from_path, folder.fields)
        if not meta.is_empty():
            # Setting tags and values is safe to repeat: a retry after a lost answer
            # sets the same ones again, with no second effect.
            self.client.update_asset(
                asset_id, tags=meta.tags, metadata=meta.values, stop=stop, calls=self.calls
            )
            log.info(
                "tagged: file=%s job=%d asset=%s tags=%s metadata=%s",
                job.path,
                job.id,
                asset_id,
                ",".join(meta.tags),
                meta.values,
            )
        failpoint("finish:after-tag")  # tagged on the server, not committed yet

    def _post_upload(self, job: Job, folder: FolderPolicy, stop: StopToken) -> str | None:
        source = Path(job.path)
        if job.source_action_at is not None and not source.exists():
            return self._done_before_restart(job, folder)
        if not self._claim_source(job):
            log.info(
                "source kept: file=%s job=%d was cancelled by an operator after its upload",
                job.path,
                job.id,
            )
            return None
        if not source_unchanged(source, fingerprint_of(job)):
            log.warning(
                "source changed or gone since upload, left as it is: file=%s job=%d",
                job.path,
                job.id,
            )
            return None
        if folder.move_to is not None:
            try:
                moved = move_source(source, folder.move_to, job.relpath, stop)
            except OSError as exc:
                raise _archive_error(folder.move_to, exc) from exc
            log.info("moved: file=%s job=%d to=%s", job.path, job.id, moved)
            return str(moved)
        delete_source(source)
        log.info("deleted after upload: file=%s job=%d", job.path, job.id)
        return None

    def _done_before_restart(self, job: Job, folder: FolderPolicy) -> str | None:
        """The post-upload action was begun before a restart and the source is gone: say
        where it went (the move's end, or the delete, was done but not recorded)."""
        if folder.move_to is not None:
            moved = moved_earlier(folder.move_to, job.relpath, fingerprint_of(job))
            if moved is not None:
                log.info("moved: file=%s job=%d to=%s (before a restart)", job.path, job.id, moved)
                return str(moved)
            log.warning(
                "source gone since upload, and not found in the archive %s: file=%s job=%d",
                folder.move_to,
                job.path,
                job.id,
            )
            return None
        if not folder.root.is_dir():  # (an unmounted share: nothing is known of the file)
            log.warning(
                "source out of reach since upload (its drop folder is not there): file=%s job=%d",
                job.path,
                job.id,
            )
            return None
        log.info("deleted after upload: file=%s job=%d (before a restart)", job.path, job.id)
        return None

    def _claim_source(self, job: Job) -> bool:
        """Start the post-upload action unless an operator cancelled; True if it may go on."""
        if job.source_action_at is not None:
            return True  # started before a restart: finish it
        with self.db.transaction() as session:
            return move_job(
                session,
                job.id,
                None,
                allowed=(JobState.INGESTING,),
                now=self.clock.now(),
                when=NOT_CANCELLED_BY_OPERATOR,
                source_action_at=self.clock.now(),
            )


def _archive_error(archive: Path, error: OSError) -> OSError:
    """Name the archive in a failed move; a full or read-only archive is the folder's outage."""
    text = (
        f"{ARCHIVE_FAILED}{archive} failed: {error.strerror or error}; "
        "the source stays where it is and the move is tried again"
    )
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return FolderUnavailable(error.errno, text)
    return OSError(error.errno, text)
