"""Receipts of finished batches: an ASC MHL generation of what reached Flow Capture.

A batch gets one once it is closed and every member is final, if any member
was hashed against an offload history (custody_step.py). Its receipt is
written, or found not wanted, in one pass and then recorded (``receipts``),
so a crash between the batch's end and its receipt is made good by the
next pass after a restart. The same pass reports, once per batch, files the
history lists that are neither on disk nor uploaded, and files it does not
list. When the media of a card were all moved or deleted after upload, its
``ascmhl/`` folder goes the same way.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exists, select

import watchd
from watchd.base.clock import SYSTEM_CLOCK, Clock
from watchd.base.names import printable
from watchd.custody.history import HISTORY_DIR, HistoryCache, HistoryError
from watchd.custody.receipts import (
    ReceiptEntry,
    ReceiptInfo,
    safe_name,
    write_generation,
    xml_safe,
)
from watchd.custody.receipts import write_json as write_json_file
from watchd.failpoints import failpoint
from watchd.ingest.policy import DELETE, FolderPolicy
from watchd.store.database import Database
from watchd.store.models import (
    ACTIVE_JOB_STATES,
    Batch,
    BatchState,
    FileHash,
    Job,
    JobState,
    Receipt,
)

log = logging.getLogger(__name__)

RECEIPTS_DIR = "receipts"  # under state_dir, unless a folder names its own
SIDECAR = "receipt.json"


@dataclass
class BatchReceipt:
    """What one batch's receipt holds before it is written."""

    batch: Batch
    folder: FolderPolicy
    members: list[tuple[Job, FileHash | None]]
    warnings: list[str] = field(default_factory=list)
    manifests: list[str] = field(default_factory=list)


class ReceiptWriter:
    """Writes the receipts of finished batches; one pass at a time (the scheduler's)."""

    def __init__(
        self,
        db: Database,
        folders: Callable[[], dict[str, FolderPolicy]],
        state_dir: Path,
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.db = db
        self.folders = folders
        self.state_dir = state_dir
        self.clock = clock
        self.histories = HistoryCache()

    def run_once(self) -> int:
        """Write the receipt of every finished batch that lacks one; return how many."""
        done = 0
        for batch_id in self._due():
            with self.db.reading() as session:
                batch = session.get_one(Batch, batch_id)
                folder = self.folders().get(batch.folder)
                if folder is None:
                    continue  # its folder left the config; receipted if it comes back
                rows = session.execute(
                    select(Job, FileHash)
                    .outerjoin(FileHash, FileHash.job_id == Job.id)
                    .where(Job.batch_id == batch_id)
                    .order_by(Job.relpath)
                ).all()
                pending = BatchReceipt(batch, folder, [(job, fh) for job, fh in rows])
            self._write(pending)
            done += 1
        return done

    def _due(self) -> list[int]:
        member_hashed = exists().where(FileHash.job_id == Job.id, Job.batch_id == Batch.id)
        member_active = exists().where(
            Job.batch_id == Batch.id, Job.state.in_([s.value for s in ACTIVE_JOB_STATES])
        )
        receipted = exists().where(Receipt.batch_id == Batch.id)
        with self.db.reading() as session:
            return list(
                session.scalars(
                    select(Batch.id)
                    .where(Batch.state == BatchState.CLOSED, member_hashed)
                    .where(~member_active, ~receipted)
                    .order_by(Batch.id)
                )
            )

    def _write(self, pending: BatchReceipt) -> None:
        folder, batch = pending.folder, pending.batch
        self._report(pending)
        state, detail = "written", None
        try:
            if folder.receipt != "off":
                self._manifests(pending)
            else:
                state = "off"
            moved = self._history_follows_media(pending)
            pending.manifests = [_moved_path(m, moved) for m in pending.manifests]
            if folder.receipt != "off":
                self._sidecar(pending)
        except OSError as exc:
            state, detail = "failed", f"{exc.strerror or exc}: {exc.filename or ''}"
            log.error(
                "receipt not written: folder=%s batch=%r: %s", folder.name, batch.name, detail
            )
        written = state == "written"
        failpoint("receipt:before-commit")  # on disk, not recorded as written yet
        with self.db.transaction() as session:
            session.add(
                Receipt(
                    batch_id=batch.id,
                    state=state,
                    written_at=self.clock.now(),
                    manifests="\n".join(pending.manifests) or None,
                    sidecar=str(self._receipt_home(pending) / SIDECAR)
                    if state == "written"
                    else None,
                    detail="\n".join([*pending.warnings, *([detail] if detail else [])]) or None,
                )
            )
        if written:
            log.info(
                "receipt written: folder=%s batch=%r files=%d to=%s",
                folder.name,
                batch.name,
                len(_uploaded(pending)),
                ", ".join(pending.manifests),
            )

    # --- what goes in ---------------------------------------------------------------------

    def _report(self, pending: BatchReceipt) -> None:
        """Warn (once per batch) of listed files gone missing, of files not uploaded (a
        checksum mismatch, say) and of unlisted files."""
        uploaded = {Path(job.path) for job, _ in pending.members}
        for root in _roots(pending):
            try:
                history = self.histories.get(root)
            except HistoryError as exc:
                pending.warnings.append(str(exc))
                continue
            missing = sorted(
                rel
                for rel in history.files
                if (root / rel) not in uploaded and not (root / rel).exists()
            )
            if missing:
                text = (
                    f"{len(missing)} file(s) listed in {root / HISTORY_DIR} are neither on disk "
                    f"nor uploaded: {', '.join(missing[:20])}{' ...' if len(missing) > 20 else ''}"
                )
                pending.warnings.append(text)
        done = {job.relpath for job, _ in pending.members if job.state == JobState.DONE}
        left = [
            f"{job.relpath} ({job.state.value}: {job.last_error or 'no reason recorded'})"
            for job, _ in pending.members
            if job.state != JobState.DONE and job.relpath not in done  # (not a former version)
        ]
        if left:
            pending.warnings.append(
                f"{len(left)} file(s) of this batch not uploaded: " + "; ".join(left[:20])
            )
        unlisted = [
            job.relpath
            for job, fh in pending.members
            if fh is not None and fh.verified_format is None and job.state == JobState.DONE
        ]
        if unlisted:
            pending.warnings.append(
                f"{len(unlisted)} file(s) not in their offload history (uploaded unchecked): "
                + ", ".join(unlisted[:20])
            )
        for text in pending.warnings:
            log.warning(
                "batch report: folder=%s batch=%r: %s",
                pending.folder.name,
                pending.batch.name,
                text,
            )

    def _entries(self, pending: BatchReceipt, base: Path) -> list[ReceiptEntry]:
        """The receipt's entries, one per uploaded file, in their order (a name XML cannot
        hold is left out of the MHL by write_generation: said here, once)."""
        entries = []
        for job, fh in _uploaded(pending):
            source = Path(fh.history_root or "") / (fh.history_relpath or "")
            path = source if fh.history_root and fh.history_relpath else Path(job.path)
            entries.append(
                ReceiptEntry(
                    relpath=_relative(path, base, job.relpath),
                    size=fh.size,
                    modified=datetime.fromtimestamp(fh.mtime_ns / 1e9, UTC),
                    hashes=json.loads(fh.hashes),
                    verified=frozenset([fh.verified_format]) if fh.verified_format else frozenset(),
                )
            )
            unfit = (
                f"{printable(entries[-1].relpath)} is not in the ASC MHL receipt: its name "
                "holds characters XML cannot (control characters, bytes that are not UTF-8); "
                "receipt.json lists it"
            )
            if not xml_safe(entries[-1].relpath) and unfit not in pending.warnings:
                pending.warnings.append(unfit)
        return entries

    def _info(self, pending: BatchReceipt) -> ReceiptInfo:
        batch = pending.batch
        comment = (
            f"Flow Capture upload: batch '{batch.name}' into folder {batch.project_id} "
            f"(drop folder '{pending.folder.name}', watchd batch {batch.id})"
        )
        return ReceiptInfo(
            tool_version=getattr(watchd, "__version__", "0"),
            hostname=socket.gethostname(),
            comment=comment,
            created=self.clock.now(),
        )

    # --- where it goes --------------------------------------------------------------------

    def _receipt_home(self, pending: BatchReceipt) -> Path:
        base = pending.folder.receipt_dir or self.state_dir / RECEIPTS_DIR
        name = f"{pending.batch.id:06d}_{safe_name(pending.batch.name)}"
        return base / safe_name(pending.folder.name) / name

    def _manifests(self, pending: BatchReceipt) -> None:
        info = self._info(pending)
        roots = _roots(pending)
        deleted = [r for r in roots if self._history_deleted_with_media(pending.folder, r)]
        if pending.folder.receipt == "history" and deleted:
            pending.warnings.append(
                f"{deleted[0] / HISTORY_DIR} is deleted with its media (after_upload: delete); "
                "the receipt went to the receipts folder instead"
            )
        elif pending.folder.receipt == "history":
            for root in roots:
                entries = [
                    e
                    for e, (job, fh) in zip(
                        self._entries(pending, root), _uploaded(pending), strict=True
                    )
                    if fh.history_root == str(root)
                ]
                try:
                    written = write_generation(root, root.name, entries, info)
                except OSError as exc:
                    pending.warnings.append(
                        f"cannot add to {root / HISTORY_DIR} ({exc.strerror or exc}); the "
                        "receipt went to the receipts folder instead"
                    )
                    break
                pending.manifests.append(str(written))
            else:
                return
        base = roots[0] if len(roots) == 1 else pending.folder.root
        home = self._receipt_home(pending)
        home.mkdir(parents=True, exist_ok=True)
        written = write_generation(home, pending.batch.name, self._entries(pending, base), info)
        pending.manifests.append(str(written))

    def _sidecar(self, pending: BatchReceipt) -> None:
        batch = pending.batch
        files = [
            {
                "path": job.relpath,
                "source": job.path,
                "size": fh.size,
                "hashes": json.loads(fh.hashes),
                "verified": fh.verified_format,
                "history": str(Path(fh.history_root) / HISTORY_DIR) if fh.history_root else None,
                "asset_id": job.asset_id,
                "uuid": job.uuid,
                "archived_to": job.archived_to,
            }
            for job, fh in _uploaded(pending)
        ]
        document = {
            "batch": {"id": batch.id, "name": batch.name, "folder": pending.folder.name},
            "flowcapture_folder_id": batch.project_id,
            "closed_at": batch.closed_at.isoformat() if batch.closed_at else None,
            "written_at": self.clock.now().isoformat(),
            "manifests": pending.manifests,
            "files": files,
            "warnings": pending.warnings,
        }
        write_json_file(self._receipt_home(pending) / SIDECAR, document)

    def _history_deleted_with_media(self, folder: FolderPolicy, root: Path) -> bool:
        """Will the card's ascmhl/ at ``root`` be deleted (a deleting folder, no media left)?"""
        return folder.move_to is None and folder.after_upload == DELETE and self._media_gone(root)

    def _media_gone(self, root: Path) -> bool:
        """Is none of the media the card's history at ``root`` lists left?"""
        if not (root / HISTORY_DIR).is_dir():
            return False
        try:
            history = self.histories.get(root)
        except HistoryError:  # (said in the batch report): it stays where it is
            return False
        return not any((root / rel).exists() for rel in history.files)

    def _history_follows_media(self, pending: BatchReceipt) -> dict[Path, Path]:
        """Move or delete a card's ascmhl/ once none of the media it lists is left; return
        where each history moved to (old path -> new)."""
        folder = pending.folder
        moved: dict[Path, Path] = {}
        if folder.move_to is None and folder.after_upload != DELETE:
            return moved
        for root in _roots(pending):
            if not self._media_gone(root):
                continue  # some media stayed (kept, failed, not wanted): so does the history
            if folder.move_to is not None:
                target = folder.move_to / root.relative_to(folder.root) / HISTORY_DIR
                if target.exists():
                    log.warning("history not moved: %s exists already", target)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(root / HISTORY_DIR, target)
                moved[root / HISTORY_DIR] = target
                log.info("history moved with its media: %s to=%s", root / HISTORY_DIR, target)
            else:
                shutil.rmtree(root / HISTORY_DIR)
                log.info("history deleted with its media: %s", root / HISTORY_DIR)
        return moved


def _moved_path(manifest: str, moved: dict[Path, Path]) -> str:
    """Where ``manifest`` is now, its history folder having moved (see ``moved``)."""
    path = Path(manifest)
    for old, new in moved.items():
        if path.is_relative_to(old):
            return str(new / path.relative_to(old))
    return manifest


def _uploaded(pending: BatchReceipt) -> list[tuple[Job, FileHash]]:
    return [
        (job, fh) for job, fh in pending.members if fh is not None and job.state == JobState.DONE
    ]


def _roots(pending: BatchReceipt) -> list[Path]:
    roots = {fh.history_root for _, fh in pending.members if fh is not None and fh.history_root}
    return [Path(r) for r in sorted(roots)]


def _relative(path: Path, base: Path, fallback: str) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return fallback
