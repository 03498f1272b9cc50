"""The schema of one drop folder (a ``folders.d`` file or an item of ``folders:``).

Every key is declared once here with its type, default and a one-line
description; the sample folder file and ``check-config`` are built from it.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, model_validator

from watchd.config.bandwidth_syntax import Bandwidth
from watchd.config.fieldtypes import (
    SAMPLE_COMMENTED,
    ConfigPath,
    Duration,
    Model,
    Name,
    NonEmptyStr,
    StrictBool,
    StrictInt,
    at_least,
)
from watchd.config.problems import Origin
from watchd.config.project_path import split_project_path
from watchd.config.templates import check_batch_template
from watchd.config.units import format_duration

AFTER_UPLOAD_HINT = "use keep, delete or {move_to: DIR}"
# The fields of /update/asset itself (watchd.flowcapture.wire.UPDATE_ASSET_OWN_FIELDS, which
# this layer may not import): metadata keys of these names would collide with them.
RESERVED_METADATA_KEYS = ("id", "tags")


def _reserved_key_problem(key: str) -> str | None:
    if key not in RESERVED_METADATA_KEYS:
        return None
    hint = "list tags under metadata.tags" if key == "tags" else "choose another name"
    return f"{key!r} cannot be a metadata key: /update/asset uses '{key}' itself ({hint})"


def _project_path(value: Any) -> Any:
    """Normalise ``"Production / Folder"`` to ``"Production/Folder"``; refuse what cannot be."""
    if isinstance(value, int):  # bool included: true is no project either
        raise ValueError(f"{value!r} is a number; write project_id: {value} for a folder id")
    if not isinstance(value, str):
        return value
    return "/".join(split_project_path(value))


def _regex_with_groups(value: str) -> str:
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise ValueError(f"'{value}' is not a valid regular expression: {exc}") from None
    if not pattern.groupindex:
        raise ValueError(f"'{value}' has no named group such as (?P<scene>\\d+)")
    for group in pattern.groupindex:
        problem = _reserved_key_problem(group)
        if problem:
            raise ValueError(f"named group {problem}")
    return value


def _no_reserved_keys(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        problem = _reserved_key_problem(key)
        if problem:
            raise ValueError(problem)
    return value


def _at_least_one(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("must list at least one glob; use ['*'] for every file")
    return value


ProjectPath = Annotated[str, BeforeValidator(_project_path)]
PositiveDuration = Annotated[Duration, at_least(0.001, format_duration)]
PositiveInt = Annotated[StrictInt, at_least(1, str)]
Template = Annotated[str, AfterValidator(check_batch_template)]
Regex = Annotated[str, AfterValidator(_regex_with_groups)]
MetadataFields = Annotated[dict[NonEmptyStr, str], AfterValidator(_no_reserved_keys)]


class BatchSettings(Model):
    """How files are grouped into Flow Capture batches (upload sessions)."""

    name: Template = Field(
        default="{folder} {date:%Y-%m-%d}",
        description="batch name: {folder}, {subdir}, {date:FORMAT}, {host}",
        examples=["{subdir}"],
    )
    idle: PositiveDuration = Field(
        default=60.0,
        description="close a batch when no file has joined it for this long (and none "
        "that would join it is still being written)",
    )


class MetadataSettings(Model):
    """Tags and metadata set on every uploaded asset."""

    tags: list[NonEmptyStr] = Field(default=[], description="tags added to every asset")
    from_path: Regex | None = Field(
        default=None,
        description="regex searched in the path below the drop folder; named groups become "
        "metadata fields",
        examples=[r"(?P<scene>\d+)_(?P<take>\d+)"],
    )
    fields: MetadataFields = Field(
        default={},
        description="fixed metadata fields set on every asset",
        examples=[{"camera": "A"}],
        json_schema_extra=SAMPLE_COMMENTED,
    )

    @property
    def from_path_regex(self) -> re.Pattern[str] | None:
        """The compiled ``from_path`` (None when not set)."""
        return re.compile(self.from_path) if self.from_path else None


class AfterUpload(Model):
    """What happens to a source file once it is in Flow Capture: keep, delete or move."""

    action: Literal["keep", "delete", "move"] = "keep"
    move_to: ConfigPath | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        """Accept ``keep``, ``delete`` or ``{move_to: DIR}`` (the only forms users write)."""
        if isinstance(value, AfterUpload):
            return value
        if isinstance(value, str) and value.strip().lower() in ("keep", "delete"):
            return {"action": value.strip().lower()}
        if isinstance(value, dict) and "move_to" in value and "action" not in value:
            return {**value, "action": "move"}
        raise ValueError(f"{value!r} is not an action; {AFTER_UPLOAD_HINT}")

    @model_validator(mode="after")
    def _move_needs_folder(self) -> AfterUpload:
        if (self.action == "move") != (self.move_to is not None):
            raise ValueError(f"move_to needs a folder; {AFTER_UPLOAD_HINT}")
        return self

    def __str__(self) -> str:
        return f"move to {self.move_to}" if self.action == "move" else self.action


KEEP = AfterUpload.model_construct(action="keep", move_to=None)  # the default, built unvalidated
RECEIPT_HINT = "use state_dir, history, off or {dir: DIR}"


class Receipt(Model):
    """Where the ASC MHL receipt of a finished batch goes (see README, Checksums and receipts)."""

    where: Literal["state_dir", "history", "dir", "off"] = Field(
        default="state_dir", description="state_dir (receipts/ there), history, dir or off"
    )
    dir: ConfigPath | None = Field(default=None, description="the folder for where: dir")

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, value: Any) -> Any:
        """Accept ``state_dir``, ``history``, ``off`` or ``{dir: DIR}``."""
        if isinstance(value, Receipt):
            return value
        if isinstance(value, str) and value.strip().lower() in ("state_dir", "history", "off"):
            return {"where": value.strip().lower()}
        if isinstance(value, dict) and set(value) <= {"dir"}:
            return {**value, "where": "dir"}
        raise ValueError(f"{value!r} is not a receipt target; {RECEIPT_HINT}")

    @model_validator(mode="after")
    def _dir_only_for_dir(self) -> Receipt:
        if (self.dir is not None) != (self.where == "dir"):
            raise ValueError(f"dir needs a folder; {RECEIPT_HINT}")
        return self

    def __str__(self) -> str:
        return f"{{dir: {self.dir}}}" if self.where == "dir" else self.where


STATE_RECEIPTS = Receipt.model_construct(where="state_dir", dir=None)  # the default


class FolderConfig(Model):
    """One drop folder: where files appear and where in Flow Capture they go."""

    name: Name = Field(
        description="unique name for logs, status and {folder} (default: file name, "
        "or the path's last part)",
        examples=["dailies"],
    )
    path: ConfigPath = Field(
        description="the drop folder to watch", examples=["/srv/dropbox/dailies"]
    )
    project: ProjectPath | None = Field(
        default=None,
        description="Flow Capture folder by name, 'Production/Folder/Sub' (or give project_id; "
        "neither: the folder the API key is tied to)",
        examples=["Show Name/Dailies"],
    )
    project_id: PositiveInt | None = Field(
        default=None,
        description="Flow Capture folder by id (instead of project)",
        examples=[123],
        json_schema_extra=SAMPLE_COMMENTED,
    )
    recursive: StrictBool = Field(
        default=True, description="also watch folders below the drop folder"
    )
    include: Annotated[list[NonEmptyStr], AfterValidator(_at_least_one)] = Field(
        default=["*"],
        description="globs of files to upload (with '/': matched against the path below the "
        "folder)",
        examples=[["*.mov", "*.mxf", "*.mp4"]],
    )
    exclude: list[NonEmptyStr] = Field(
        default=[], description="globs of files never to upload", examples=[["*_tmp*"]]
    )
    poll: StrictBool = Field(
        default=False, description="poll instead of using inotify (true on SMB/NFS mounts)"
    )
    poll_interval: PositiveDuration = Field(
        default=5.0, description="how often to poll (only used with poll: true)"
    )
    settle: PositiveDuration = Field(
        default=10.0, description="a file is complete when unchanged for this long"
    )
    upload_empty: StrictBool = Field(
        default=False,
        description="upload zero-byte files too (by default they are skipped, reported once; "
        "a placeholder that grows is uploaded then)",
    )
    batch: BatchSettings = Field(default_factory=BatchSettings, description=BatchSettings.__doc__)
    metadata: MetadataSettings = Field(
        default_factory=MetadataSettings, description=MetadataSettings.__doc__
    )
    after_upload: AfterUpload = Field(
        default=KEEP,
        description="after upload: keep, delete, or {move_to: DIR} (an archive folder)",
    )
    verify: Literal["auto", "mhl", "off"] = Field(
        default="auto",
        description="check files against their ASC MHL offload history (ascmhl/) before "
        "completing: auto (where one covers the file), mhl (every file must be listed), off",
    )
    receipt: Receipt = Field(
        default=STATE_RECEIPTS,
        description="ASC MHL receipt of each finished batch whose files have an offload "
        "history: state_dir (receipts/ there), {dir: DIR}, history (a generation appended "
        "to the card's own ascmhl/), off",
    )
    allow_unverified_delete: StrictBool = Field(
        default=False,
        description="with verify: off, still move or delete files that have an offload history",
    )
    bandwidth: Bandwidth | None = Field(
        default=None,
        description="this folder's own upload cap or schedule, as transfer.bandwidth; the "
        "lower of the two applies (default: only transfer.bandwidth)",
        examples=["Mon-Fri 07:00 5MB/s, Mon-Fri 19:00 unlimited"],
        json_schema_extra=SAMPLE_COMMENTED,
    )
    _origin: Origin | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, value: Any) -> Any:
        """An inline folder without ``name`` is named after its path's last component."""
        if isinstance(value, dict) and "name" not in value:
            path = value.get("path")
            named = isinstance(path, str | PurePath) and str(path).strip()
            name = PurePath(str(path).strip()).name if named else "unnamed"
            return {**value, "name": name}
        return value

    @model_validator(mode="after")
    def _one_project(self) -> FolderConfig:
        # Neither: the folder the API key is tied to (an immediates connection), which
        # only Flow Capture can tell; the daemon and check-config --online ask it.
        if self.project is not None and self.project_id is not None:
            raise ValueError("give project or project_id, not both")
        return self

    @property
    def origin(self) -> Origin | None:
        """Where this folder was defined (file, key prefix, lines), when loaded from YAML."""
        return self._origin

    @property
    def key_folder(self) -> bool:
        """True when the folder names no project: its files go to the API key's folder."""
        return self.project is None and self.project_id is None

    @property
    def archive(self) -> Path | None:
        """The archive folder of ``after_upload: {move_to: DIR}``, else None."""
        return self.after_upload.move_to if self.after_upload.action == "move" else None
