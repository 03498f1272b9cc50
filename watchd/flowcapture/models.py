"""Typed results of the Flow Capture API.

Each model holds the fields the vendor document names; anything else the
server sends is kept in ``extra`` rather than rejected, so a newer service
never breaks an older watchd.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

T = TypeVar("T", bound="WireModel")


@dataclass(frozen=True)
class WireModel:
    """Base for models built from a JSON object; unknown fields land in ``extra``."""

    extra: dict[str, Any] = field(default_factory=dict, kw_only=True, repr=False)

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        """Build the model from a decoded JSON object; raises ValueError if it is not one."""
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object for {cls.__name__}, got {type(obj).__name__}")
        names = {f.name for f in dataclasses.fields(cls) if f.name != "extra"}
        known = {k: v for k, v in obj.items() if k in names}
        extra = {k: v for k, v in obj.items() if k not in names}
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """Return the model as a plain dict (extra fields included) for JSON output."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        extra = data.pop("extra")
        return {**extra, **data}


def list_of(model: type[T], payload: Any) -> list[T]:
    """Build a list of ``model`` from a JSON array; raises ValueError if it is not one."""
    if not isinstance(payload, list):
        raise ValueError(f"expected a JSON array of {model.__name__}, got {type(payload).__name__}")
    return [model.from_wire(item) for item in payload]


@dataclass(frozen=True)
class AuthSession(WireModel):
    """What /authenticate/api answered: the token and, for a key tied to a folder
    (an immediates connection), that folder's id."""

    token: str
    project_id: int | None = None

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        base = super().from_wire(obj)
        project: Any = base.project_id  # as the service sent it
        if isinstance(project, str) and project.strip().isdigit():
            project = int(project)
        if isinstance(project, bool) or not isinstance(project, int):
            project = None  # absent or unusable: the key names no folder of its own
        return dataclasses.replace(base, token=str(base.token), project_id=project)

    def __repr__(self) -> str:  # the token is a secret: keep it out of reprs
        return f"AuthSession(project_id={self.project_id!r})"


@dataclass(frozen=True)
class Production(WireModel):
    """A production ("group" in the API)."""

    id: int
    name: str = ""


@dataclass(frozen=True)
class Folder(WireModel):
    """A folder ("project" in the API); folders nest through ``parent_project_id``."""

    id: int
    name: str = ""
    group_id: int | None = None
    parent_project_id: int | None = None


@dataclass(frozen=True)
class Asset(WireModel):
    """An asset in a folder."""

    id: int
    name: str = ""
    uuid: str | None = None
    project_id: int | None = None
    batch_name: str | None = None
    size: int | None = None  # bytes; a field of the listing we rely on only when present


@dataclass(frozen=True)
class Comment(WireModel):
    """A comment on an asset; ``type`` is COMMENT or IO_POINT (IO points are for players)."""

    id: int
    description: str = ""
    color: str | None = None
    has_marker: bool = False
    marker_time: float | None = None
    has_drawing: bool = False
    is_reply: bool = False
    parent_id: int | None = None
    has_reply: bool = False
    asset_id: int | None = None
    project_id: int | None = None
    type: str = "COMMENT"
    user_first_name: str | None = None
    user_last_name: str | None = None


@dataclass(frozen=True)
class UploadSession(WireModel):
    """The handles of a multipart upload returned by /upload/asset/init."""

    upload_id: str
    key: str


@dataclass(frozen=True)
class FileCategories(WireModel):
    """The download categories (ORIGINAL and proxies) available for some assets."""

    file_category: list[str] = field(default_factory=list)
    file_count: dict[str, Any] = field(default_factory=dict)
    group: dict[str, Any] = field(default_factory=dict)
    non_watermarked: bool = False
    non_watermarked_file_sizes: dict[str, Any] = field(default_factory=dict)
    sort_order: dict[str, Any] = field(default_factory=dict)
    watermarked_count: dict[str, Any] = field(default_factory=dict)
    watermarked_file_sizes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DownloadTask(WireModel):
    """One file of a direct download: ready (``url``) or still processing (``task_id``)."""

    asset_id: int
    filename: str = ""
    path: str | None = None
    processing: bool = False
    task_id: str | int | None = None
    url: str | None = None

    def __repr__(self) -> str:  # the URL is presigned: keep it out of reprs
        return (
            f"DownloadTask(asset_id={self.asset_id!r}, filename={self.filename!r}, "
            f"processing={self.processing!r}, task_id={self.task_id!r})"
        )


@dataclass(frozen=True)
class DownloadError(WireModel):
    """An asset that could not begin processing for download, with the server's reason."""

    asset_id: int
    error_message: str = ""


@dataclass(frozen=True)
class DirectDownload(WireModel):
    """The answer of /download/assets/direct."""

    errors: list[DownloadError] = field(default_factory=list)
    successful_processes: list[DownloadTask] = field(default_factory=list)

    @classmethod
    def from_wire(cls, obj: Any) -> Self:
        base = super().from_wire(obj)
        return dataclasses.replace(
            base,
            errors=list_of(DownloadError, base.errors or []),
            successful_processes=list_of(DownloadTask, base.successful_processes or []),
        )


@dataclass(frozen=True)
class TaskMessage(WireModel):
    """The latest status of a download task: progress text and, when ready, a URL."""

    task_id: str | int
    message: dict[str, Any] = field(default_factory=dict)

    @property
    def progress(self) -> str:
        """The progress text, e.g. ``"40%"`` (empty when the server gave none)."""
        return str(self.message.get("progress") or "")

    @property
    def direct_url(self) -> str | None:
        """The download URL once processing is finished, else None."""
        url = self.message.get("direct_url")
        return str(url) if url else None

    def __repr__(self) -> str:
        return f"TaskMessage(task_id={self.task_id!r}, progress={self.progress!r})"
