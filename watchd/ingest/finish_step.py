"""The last steps of a job after its batch closed: metadata, then the post-upload action.

The metadata is committed as sent (``tagged_at``) before the source is touched.
The source is only moved or deleted once the asset is listed in Flow Capture
and if it is still the file that was uploaded.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from watchd.failpoints import failpoint
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.metadata import metadata_for
from watchd.ingest.policy import DELETE, FolderPolicy
from watchd.ingest.post_upload import delete_source, move_source, source_unchanged
from watchd.ingest.presence import AssetPresence
from watchd.ingest.upload_step import fingerprint_of
from watchd.store.database import Database
from watchd.store.models import Job

log = logging.getLogger(__name__)


class AssetNotReady(Exception):
    """Flow Capture has not finished processing the asset: look again soon."""


class FinishStep:
    """Tags the asset and carries out the folder's post-upload action."""

    def __init__(self, db: Database, client: FlowCaptureClient):
        self.db = db
        self.client = client
        self.presence = AssetPresence(client)

    def run(self, job: Job, folder: FolderPolicy) -> str | None:
        """Finish ``job``; return where the source went (None if it stayed). Raises on failure."""
        if job.tagged_at is None:
            self._tag(job, folder)
        return self._post_upload(job, folder)

    def _tag(self, job: Job, folder: FolderPolicy) -> None:
        meta = metadata_for(job.relpath, folder.tags, folder.from_path, folder.fields)
        if not meta.is_empty():
            self.client.update_asset(job.uuid, tags=meta.tags, metadata=meta.values)
            log.info(
                "tagged: file=%s job=%d asset=%s tags=%s metadata=%s",
                job.path,
                job.id,
                job.asset_id,
                ",".join(meta.tags),
                meta.values,
            )
        failpoint("finish:after-tag")  # tagged on the server, not committed yet
        with self.db.transaction() as session:
            session.get_one(Job, job.id).tagged_at = datetime.now(UTC)

    def _post_upload(self, job: Job, folder: FolderPolicy) -> str | None:
        source = Path(job.path)
        if folder.move_to is None and folder.after_upload != DELETE:
            return None
        if not self.presence.visible(job.project_id, job.uuid):
            raise AssetNotReady(f"asset {job.asset_id} is not listed in Flow Capture yet")
        if not source_unchanged(source, fingerprint_of(job)):
            log.warning(
                "source changed or gone since upload, left as it is: file=%s job=%d",
                job.path,
                job.id,
            )
            return None
        if folder.move_to is not None:
            moved = move_source(source, folder.move_to, job.relpath)
            log.info("moved: file=%s job=%d to=%s", job.path, job.id, moved)
            return str(moved)
        delete_source(source)
        log.info("deleted after upload: file=%s job=%d", job.path, job.id)
        return None
