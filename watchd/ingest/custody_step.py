"""Chain of custody in the pipeline: a file is checked against its ASC MHL offload
history before its upload is completed, and its source is kept after upload when
nothing but its size was checked.

The check is one sequential read of the file (parts may already have gone out)
computing the history's format and what a receipt records (xxh64, md5). A
mismatch is a ChecksumMismatch: the job fails for good and is never completed,
moved or deleted. The hashes go into ``file_hashes`` in the transaction that
records "complete sent" (no commit of their own), so a restart does not read
the file again, and the batch's receipt lists them.
The history is looked up at that moment, so one that arrives after its media
settled still counts for files not completed yet.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from watchd.base.clock import SYSTEM_CLOCK, Clock
from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.base.mounts import keeps_own_ctime
from watchd.base.stop import StopToken
from watchd.custody.ahead import HashesAhead
from watchd.custody.check import RECEIPT_FORMATS, NotInHistory, check_file, formats_to_hash
from watchd.custody.history import HISTORY_DIR, HistoryCache, HistoryError, history_root_for
from watchd.flowcapture.parts import choose_part_size
from watchd.ingest.policy import KEEP, FolderPolicy, TransferPolicy
from watchd.ingest.upload_step import fingerprint_of
from watchd.store.database import Database
from watchd.store.models import FileHash, Job

log = logging.getLogger(__name__)

AUTO, MHL, OFF = "auto", "mhl", "off"


class CustodyStep:
    """Verifies a job's file against its offload history; decides whether its source may go."""

    def __init__(
        self,
        db: Database,
        folders: Callable[[], dict[str, FolderPolicy]],
        clock: Clock = SYSTEM_CLOCK,
        transfer: Callable[[], TransferPolicy] = TransferPolicy,
        stop: StopToken | None = None,
    ):
        self.db = db
        self.folders = folders
        self.clock = clock
        self.transfer = transfer
        self.histories = HistoryCache()
        # Files hashed while they settle (the daemon's watchers offer them).
        self.ahead = HashesAhead(self._formats_ahead, stop or StopToken())

    def hash_ahead(self, files: list[SettledFile], settle: float) -> None:
        """Hash these files (one folder's, whose settle time is ``settle`` seconds) while
        they settle, for :meth:`verify` to find ready."""
        folder = self.folders().get(files[0].folder) if files else None
        if folder is None or folder.verify == OFF:
            return
        # folder -> has a history and is on a filesystem whose ctime tells every change (a
        # few stats and a look at the mount table). Elsewhere (a share, whose attributes
        # this machine caches; FAT, whose ctime is its mtime) the check reads the file.
        wanted: dict[Path, bool] = {}
        for file in files:
            where = file.path.parent
            if where not in wanted:
                covered = history_root_for(file.path, folder.root) is not None
                wanted[where] = covered and keeps_own_ctime(where)
            if wanted[where]:
                self.ahead.offer(file.folder, file.path, file.fingerprint, settle)

    def _formats_ahead(self, name: str, path: Path, fingerprint: Fingerprint) -> list[str] | None:
        """What :meth:`verify` will want of this file (None: nothing, no history covers it).

        Not the md5 of a file sent as one part: its part's Content-MD5 is that.
        """
        folder = self.folders().get(name)
        if folder is None or folder.verify == OFF:
            return None
        root = history_root_for(path, folder.root)
        if root is None:
            return None
        formats = formats_to_hash(path, self.histories.get(root), RECEIPT_FORMATS)
        if self._one_part(fingerprint.size):
            formats.remove("md5")
        return formats

    def _one_part(self, size: int) -> bool:
        """True if a file of ``size`` bytes goes up as one part (its md5 is the part's)."""
        return size <= choose_part_size(size, self.transfer().part_size)

    def verify(
        self, job: Job, stop: StopToken, known: Mapping[str, str] | None = None
    ) -> FileHash | None:
        """Check ``job``'s file before its upload completes (the upload step calls this).

        ``known``: digests of the file the upload computed already (the md5 of a
        file sent as one part), used instead of computing them again.
        Returns the hashes to record with "complete sent", or None when there
        is nothing to record (no history, verify off, hashed already).
        Raises ChecksumMismatch, HistoryError or NotInHistory (fail for good),
        OSError (unreadable) or Stopped.
        """
        folder = self.folders().get(job.folder)
        if folder is None or folder.verify == OFF:
            return None
        path = Path(job.path)
        root = history_root_for(path, folder.root)  # a few stats: before the database read
        if root is None and folder.verify != MHL:
            return None
        if self._hashed_already(job):
            return None
        if root is None:
            raise NotInHistory(
                f"verify: mhl, but no {HISTORY_DIR}/ history covers {path}; "
                "it is not uploaded (set verify: auto to upload unlisted files)"
            )
        known = {**self.ahead.take(path, fingerprint_of(job), stop), **(known or {})}
        check = check_file(path, self.histories.get(root), stop=stop, known=known)
        if check.unlisted:
            if folder.verify == MHL:
                raise NotInHistory(
                    f"verify: mhl, but {path} is not listed in the offload history "
                    f"{root / HISTORY_DIR}; it is not uploaded"
                )
            log.warning(
                "not in the offload history: file=%s job=%d history=%s (added after the "
                "offload?); uploaded without a check, the source is kept",
                job.path,
                job.id,
                root / HISTORY_DIR,
            )
        else:
            log.info(
                "verified: file=%s job=%d %s=%s history=%s",
                job.path,
                job.id,
                check.format,
                check.expected,
                root / HISTORY_DIR,
            )
        return self._row(job, root, check.relpath, check.format, check.hashes)

    def ready(self, job: Job) -> bool:
        """True if :meth:`verify` of ``job`` would read nothing: its file was hashed while
        it settled in the history's format and every one a receipt records (so not a
        file sent as one part, whose md5 is its part's)."""
        folder = self.folders().get(job.folder)
        if folder is None or folder.verify == OFF or self._one_part(job.size):
            return False
        path = Path(job.path)
        root = history_root_for(path, folder.root)
        if root is None:
            return False
        try:
            wanted = formats_to_hash(path, self.histories.get(root), RECEIPT_FORMATS)
        except HistoryError:
            return False  # the check reports it
        return self.ahead.ready(path, fingerprint_of(job), tuple(wanted))

    def source_policy(self, job: Job, folder: FolderPolicy) -> FolderPolicy:
        """Return ``folder``, or a copy that keeps the source when it must not go.

        A file covered by an offload history is only moved or deleted once it
        matched it (not after a size-only check), unless the folder says
        ``allow_unverified_delete: true``.
        """
        acts = folder.move_to is not None or folder.after_upload != KEEP
        if not acts or folder.allow_unverified_delete:
            return folder
        root = history_root_for(Path(job.path), folder.root)
        if root is None or self._verified(job.id):
            return folder
        why = (
            "verify is off"
            if folder.verify == OFF
            else f"it is not listed in the offload history {root / HISTORY_DIR}"
        )
        log.warning(
            "source kept: file=%s job=%d: %s and nothing checked it against its offload "
            "history; set allow_unverified_delete: true to move or delete such files anyway",
            job.path,
            job.id,
            why,
        )
        return dataclasses.replace(folder, after_upload=KEEP, move_to=None)

    def _hashed_already(self, job: Job) -> bool:
        if job.complete_sent_at is None:
            # Hashes are recorded with "complete sent": before that there are none, or
            # those of a try whose complete was refused (hashed again, the row replaced).
            return False
        with self.db.reading() as session:
            row = session.get(FileHash, job.id)
            return row is not None and (row.size, row.mtime_ns) == (job.size, job.mtime_ns)

    def _verified(self, job_id: int) -> bool:
        with self.db.reading() as session:
            row = session.get(FileHash, job_id)
            return row is not None and row.verified_format is not None

    def _row(
        self,
        job: Job,
        root: Path,
        relpath: str | None,
        verified: str | None,
        hashes: dict[str, str],
    ) -> FileHash:
        return FileHash(
            job_id=job.id,
            size=job.size,
            mtime_ns=job.mtime_ns,
            hashes=json.dumps(hashes, sort_keys=True),
            history_root=str(root),
            history_relpath=relpath,
            verified_format=verified,
            hashed_at=self.clock.now(),
        )
