"""Plain records of the emulator's API state: uploads, assets, comments, tasks.

They carry no behaviour beyond conversion to and from the dicts kept in
``state.json``; the rules live in the endpoint modules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

UPLOAD_OPEN = "open"
UPLOAD_COMPLETED = "completed"
UPLOAD_INGESTING = "ingesting"
UPLOAD_ABORTED = "aborted"


@dataclass
class UploadRecord:
    """One Flow Capture upload (``/upload/asset/init``) and where it got to."""

    upload_id: str
    key: str
    filename: str
    project_id: int
    uuid: str | None
    user_email: str
    created_at: float
    state: str = UPLOAD_OPEN
    asset_id: int | None = None
    batch_name: str | None = None
    project_id_sent: bool = True  # False: init named no folder, the key's own was used


@dataclass
class AssetRecord:
    """An asset preallocated by ``/upload/asset/complete``.

    It becomes visible once ``visible_at`` (set by ``/complete/upload``) is due.
    """

    id: int
    uuid: str
    name: str
    project_id: int
    group_id: int
    batch_name: str
    size: int
    etag: str
    bucket: str
    key: str
    owner_email: str
    created_at: float
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    visible_at: float | None = None

    def visible(self, now: float) -> bool:
        """Return True when ingest has finished at time ``now``."""
        return self.visible_at is not None and now >= self.visible_at


@dataclass
class CommentRecord:
    """A comment (or IO point) on an asset."""

    id: int
    asset_id: int
    project_id: int
    description: str
    color: str
    has_marker: bool
    marker_time: float
    has_drawing: bool
    is_reply: bool
    parent_id: int | None
    type: str
    author_email: str
    user_first_name: str
    user_last_name: str
    created_at: float
    has_reply: bool = False


@dataclass
class CompleteUploadCall:
    """One accepted ``/complete/upload`` call, kept for tests and the demo."""

    project_id: int
    batch_name: str
    keys: list[str]
    user_email: str
    time: float
    repeat: bool = False  # every key had been queued for ingest by an earlier call
    repeated_keys: list[str] = field(default_factory=list)  # those queued by an earlier call
    project_id_sent: bool = True  # False: the call named no folder, the key's own was used


@dataclass
class DownloadTask:
    """Preparation of one asset file category for download."""

    task_id: str
    asset_id: int
    category: str
    non_watermarked: bool
    bucket: str
    key: str
    filename: str
    user_email: str
    started_at: float
    ready_at: float


_R = TypeVar("_R")


def to_dict(record: object) -> dict[str, Any]:
    """Return a record as a JSON-ready dict."""
    return dataclasses.asdict(record)  # type: ignore[call-overload, no-any-return]


def from_dict(cls: type[_R], data: dict[str, Any]) -> _R:
    """Build a record from a dict written by :func:`to_dict`, ignoring unknown keys."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})
