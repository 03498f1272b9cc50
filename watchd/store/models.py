"""SQLAlchemy models: jobs (one per file to upload), their parts, and batches.

The schema only changes through Alembic revisions in ``migrations/``; a test
proves the models and the migrations agree.
"""

from __future__ import annotations

import base64
import enum
import os
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    case,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class FsText(TypeDecorator[str]):
    """A file system path or name, stored losslessly as text.

    A name that is not valid UTF-8 reaches Python with surrogate escapes,
    which SQLite and PostgreSQL text cannot hold. Such a value is stored as a
    marker and the base64 of its bytes. On SQLite the marker starts with NUL,
    which no path can contain, so it never collides with a real name.
    PostgreSQL text cannot hold NUL either: there the marker starts with
    U+FFFF, and a real value that starts with that marker is stored encoded
    too, so the two still never mix up.
    """

    impl = Text
    cache_ok = True
    RAW_MARK = "\x00fs64:"
    TEXT_RAW_MARK = "\uffffraw64:"  # databases whose text refuses NUL (PostgreSQL)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        mark = self.RAW_MARK if dialect.name == "sqlite" else self.TEXT_RAW_MARK
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return mark + base64.b64encode(os.fsencode(value)).decode("ascii")
        if mark == self.TEXT_RAW_MARK and value.startswith(mark):
            return mark + base64.b64encode(os.fsencode(value)).decode("ascii")
        return value

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        for mark in (self.RAW_MARK, self.TEXT_RAW_MARK):
            if value.startswith(mark):
                return os.fsdecode(base64.b64decode(value[len(mark) :]))
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class JobState(enum.StrEnum):
    """Where a file is in its life (DESIGN.md, "The life of a file")."""

    QUEUED = "queued"  # settled, waiting for a worker
    UPLOADING = "uploading"  # multipart upload in progress
    UPLOADED = "uploaded"  # /upload/asset/complete done, waiting for its batch to close
    INGESTING = "ingesting"  # batch closed; metadata and the post-upload action remain
    DONE = "done"  # asset tagged and post-upload action carried out
    WAITING = "waiting"  # failed in a retryable way; runs again at next_attempt_at
    FAILED = "failed"  # permanent failure or out of attempts; an operator may retry
    CANCELLED = "cancelled"  # file gone, or cancelled by an operator


TERMINAL_JOB_STATES = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})
ACTIVE_JOB_STATES = frozenset(JobState) - TERMINAL_JOB_STATES


class BatchState(enum.StrEnum):
    """A batch is open while files join it, then closed with /complete/upload."""

    OPEN = "open"  # files may still join
    CLOSING = "closing"  # no more files join; /complete/upload not yet accepted
    CLOSED = "closed"  # /complete/upload accepted
    EMPTY = "empty"  # closed with no uploaded member: nothing was sent


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        kind,
        name=name,
        native_enum=False,
        validate_strings=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Batch(Base):
    """One Flow Capture upload session: a named group of files in one folder."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder: Mapped[str] = mapped_column(String(255))  # drop folder name from the config
    project_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(512))
    state: Mapped[BatchState] = mapped_column(_enum(BatchState, "batch_state"))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_file_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # /complete/upload went out and no answer came back (reset, timeout, 5xx): before it
    # is sent again, the listing is searched for the members (was it acted on already?).
    close_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    jobs: Mapped[list[Job]] = relationship(back_populates="batch")

    __table_args__ = (Index("ix_batches_folder_state", "folder", "state"),)


class Job(Base):
    """One file to upload, from the moment it settled to its final state."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    folder: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(FsText())  # absolute path (follows a rename)
    relpath: Mapped[str] = mapped_column(FsText())  # path below the drop folder
    filename: Mapped[str] = mapped_column(String(1024))  # display name sent to Flow Capture
    # The fingerprint: the same file (device, inode) with the same size and mtime.
    device: Mapped[int] = mapped_column(BigInteger)
    inode: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)

    # Written only by watchd.store.transitions (guarded: it moves from named states).
    state: Mapped[JobState] = mapped_column(_enum(JobState, "job_state"), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    uuid: Mapped[str] = mapped_column(String(36), unique=True)  # asset uuid, fixed at queue time
    project_id: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    upload_id: Mapped[str | None] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(Text)
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    asset_id: Mapped[int | None] = mapped_column(BigInteger)

    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    uploaded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    tagged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    archived_to: Mapped[str | None] = mapped_column(FsText())  # where the post-upload move put it
    # /upload/asset/complete was sent for the current upload. From then on a cancel cannot
    # undo it, and a NoSuchUpload answer means the upload most likely was completed.
    complete_sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # An operator ran `watchd cancel`: while CANCELLED the file is not queued again (until it
    # changes or is retried); if the upload had completed, the source is kept.
    operator_cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The post-upload move or delete began; from then on a cancel comes too late.
    source_action_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # WAITING for the service or the drop folder (an outage), not for itself: no attempt is
    # spent, and it goes again as soon as the outage ends. None: waiting on its own account.
    waiting_on: Mapped[str | None] = mapped_column(String(16))
    # Several nodes on one PostgreSQL queue: the node working on the job and until when
    # (the database's clock); an expired lease lets another node take the job over.
    lease_node: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    batch: Mapped[Batch | None] = relationship(back_populates="jobs")

    @hybrid_property
    def resume_state(self) -> JobState:
        """The state a job goes back to when it is put in line again (retry, requeue).

        A file Flow Capture has (or most likely has) goes on to its last steps; any
        other starts its upload again (resuming committed parts). Usable in SQL too.
        """
        return JobState.QUEUED if self.uploaded_at is None else JobState.INGESTING

    @resume_state.inplace.expression
    @classmethod
    def _resume_state_expression(cls) -> ColumnElement[str]:
        return case(
            (cls.uploaded_at.is_(None), JobState.QUEUED.value), else_=JobState.INGESTING.value
        )

    parts: Mapped[list[Part]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="Part.number"
    )

    __table_args__ = (
        Index("ix_jobs_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_jobs_state_folder_id", "state", "folder", "id"),  # the next jobs to run
        Index("ix_jobs_version_by_inode", "inode", "size", "mtime_ns"),
        Index("ix_jobs_version_by_path", "folder", "relpath", "size", "mtime_ns"),
        Index("ix_jobs_batch_id", "batch_id"),
        Index("ix_jobs_lease_node", "lease_node"),
    )


class Part(Base):
    """One part of a job's multipart upload; done once its ETag is committed."""

    __tablename__ = "parts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str | None] = mapped_column(String(32))  # base64 Content-MD5
    etag: Mapped[str | None] = mapped_column(String(128))
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    job: Mapped[Job] = relationship(back_populates="parts")

    __table_args__ = (UniqueConstraint("job_id", "number", name="uq_parts_job_id_number"),)


class FileHash(Base):
    """A job's file as hashed before its upload completed (chain of custody, issue 13)."""

    __tablename__ = "file_hashes"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)  # the version hashed
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    hashes: Mapped[str] = mapped_column(Text)  # JSON: format -> digest
    history_root: Mapped[str | None] = mapped_column(FsText())  # the folder holding ascmhl/
    history_relpath: Mapped[str | None] = mapped_column(FsText())  # below history_root
    # The format compared with the history and matched; None: the history does not list it.
    verified_format: Mapped[str | None] = mapped_column(String(16))
    hashed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Receipt(Base):
    """The ASC MHL receipt of a finished batch: written, or why not."""

    __tablename__ = "receipts"

    batch_id: Mapped[int] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))  # written | off | failed
    written_at: Mapped[datetime] = mapped_column(UtcDateTime())
    manifests: Mapped[str | None] = mapped_column(FsText())  # hash lists written, one a line
    sidecar: Mapped[str | None] = mapped_column(FsText())  # the JSON with the asset ids
    detail: Mapped[str | None] = mapped_column(Text)  # warnings, or why it failed


class Node(Base):
    """An ingest node sharing the database (PostgreSQL only): its last sign of life."""

    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FolderLease(Base):
    """Which node watches a shared drop folder, until when (the database's clock)."""

    __tablename__ = "folder_leases"

    folder: Mapped[str] = mapped_column(String(200), primary_key=True)  # the folder's name
    path: Mapped[str] = mapped_column(FsText())
    node: Mapped[str] = mapped_column(String(200))
    lease_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Notification(Base):
    """One event queued for one notification target (the outbox); see watchd/notify."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node: Mapped[str] = mapped_column(String(200))  # the node that queued it delivers it
    target: Mapped[str] = mapped_column(String(64))  # NotifyTarget key (never the webhook URL)
    kind: Mapped[str] = mapped_column(String(32))  # EventKind
    payload: Mapped[str] = mapped_column(Text)  # the event as JSON
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    dropped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # out of attempts
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_notifications_target_sent_at", "target", "sent_at"),)
