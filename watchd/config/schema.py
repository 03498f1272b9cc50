"""The schema of ``watchd.yaml``: every key once, with type, default and description.

Durations, sizes and rates read as people write them (``10s``, ``16MiB``,
``40MB/s``, see :mod:`watchd.config.units`); defaults are written the same way
and validated like user input. After loading, ``Config.folders`` holds every
drop folder: the inline ones and those from ``folders_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, PrivateAttr, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from watchd.base.service import DEFAULT_BASE_URL, MAX_PART_BYTES, MIB, MIN_PART_BYTES
from watchd.config.bandwidth_syntax import NO_CAP, Bandwidth, TimeZoneName
from watchd.config.fieldtypes import (
    SAMPLE_COMMENTED,
    ConfigPath,
    Duration,
    Email,
    EnvName,
    HttpUrl,
    ListenAddress,
    LowerStr,
    Model,
    Size,
    StrictInt,
    at_least,
    between,
)
from watchd.config.folder_schema import FolderConfig, PositiveDuration, PositiveInt
from watchd.config.limits import DEFAULT_CONNECTIONS, MAX_PARALLEL
from watchd.config.node_schema import NodeSettings
from watchd.config.notify_schema import NotifyTarget
from watchd.config.problems import Origin
from watchd.config.units import format_duration, format_size


def _database_url(value: str) -> str:
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(
            "is not a SQLAlchemy URL, e.g. postgresql+psycopg://watchd@db.example.com/watchd"
        ) from None
    if url.password:
        raise ValueError(
            "must not contain a password; put it in a file named by database_password_file, "
            "the systemd credential watchd-db-password, or ~/.pgpass of the user watchd runs as"
        )
    return value


Parallel = Annotated[StrictInt, between(1, MAX_PARALLEL, str)]
PartSize = Annotated[Size, between(MIN_PART_BYTES, MAX_PART_BYTES, format_size)]
MIN_BUFFER_BYTES = 16 * MIB  # less memory for parts in flight than this stalls big files
MAX_BUFFER_BYTES = 64 * 1024 * MIB
BufferSize = Annotated[Size, between(MIN_BUFFER_BYTES, MAX_BUFFER_BYTES, format_size)]
Level = Annotated[Literal["debug", "info", "warning", "error"], LowerStr]
LogFormat = Annotated[Literal["text", "json"], LowerStr]


class FlowCaptureSettings(Model):
    """The Flow Capture service and the user watchd acts as."""

    url: HttpUrl = Field(default=DEFAULT_BASE_URL, description="Flow Capture API base URL")
    email: Email = Field(
        description="email of the Flow Capture user that uploads", examples=["ingest@example.com"]
    )
    api_key_file: ConfigPath | None = Field(
        default=None,
        description="file holding the API key, mode 600 (else api_key_env, else the systemd "
        "credential 'api_key')",
        examples=["/etc/watchd/api_key"],
    )
    api_key_env: EnvName | None = Field(
        default=None,
        description="environment variable holding the API key (instead of api_key_file)",
        examples=["WATCHD_API_KEY"],
        json_schema_extra=SAMPLE_COMMENTED,
    )

    @model_validator(mode="after")
    def _one_key_source(self) -> FlowCaptureSettings:
        if self.api_key_file is not None and self.api_key_env is not None:
            raise ValueError("give api_key_file or api_key_env, not both")
        return self


class LogSettings(Model):
    """Where log lines go; stderr (the journal under systemd) always gets them too."""

    file: ConfigPath | None = Field(
        default=None,
        description="log file, reopened after logrotate moves it (null: stderr only)",
        examples=["/var/log/watchd/watchd.log"],
    )
    level: Level = Field(default="info", description="debug, info, warning or error")
    format: LogFormat = Field(
        default="text", description="text, or json for one JSON object a line"
    )


class TransferSettings(Model):
    """How uploads use the network."""

    part_size: PartSize = Field(
        default=16 * MIB, description="multipart upload part size (5MiB..5GiB)"
    )
    connections: Parallel = Field(
        default=DEFAULT_CONNECTIONS,
        description="requests in flight at once, all files together (1..64), to each host: "
        "part PUTs, and API calls of the upload flow (tagging, aborts included); many small "
        "files go up side by side (twice as many), a big one in several parts",
    )
    buffer: BufferSize = Field(
        default=256 * MIB,
        description="memory for parts being sent, all files together (each part is read "
        "once into it)",
    )
    parallel_files: Parallel | None = Field(
        default=None,
        description="at most this many files at once (default: twice the connections)",
        json_schema_extra=SAMPLE_COMMENTED,
    )
    parallel_parts: Parallel = Field(
        default=8, description="at most this many parts of one file at once"
    )
    bandwidth: Bandwidth = Field(
        default=NO_CAP,
        description="upload cap for all files together: a rate with its unit (40MB/s, "
        "100Mbit/s; at least 64KiB/s), unlimited, pause, or a weekly schedule such as "
        "'Mon-Fri 07:00 20MB/s, Mon-Fri 19:00 unlimited, Sat-Sun pause'",
    )
    timezone: TimeZoneName = Field(
        default=None,
        description="time zone the bandwidth schedules are read in (default: the system's)",
        examples=["Europe/London"],
        json_schema_extra=SAMPLE_COMMENTED,
    )


class RetrySettings(Model):
    """How failed uploads are tried again (exponential backoff with jitter)."""

    max_attempts: PositiveInt = Field(
        default=10, description="attempts before a job is marked failed"
    )
    backoff_initial: PositiveDuration = Field(
        default=10.0, description="wait before the second attempt"
    )
    backoff_max: PositiveDuration = Field(
        default=1800.0, description="longest wait between attempts"
    )

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.backoff_max < self.backoff_initial:
            raise ValueError(
                f"backoff_max ({format_duration(self.backoff_max)}) is shorter than "
                f"backoff_initial ({format_duration(self.backoff_initial)})"
            )
        return self


class ScanSettings(Model):
    """Periodic full rescans: the truth that file events only hint at."""

    rescan_interval: Annotated[Duration, at_least(1, format_duration)] = Field(
        default=300.0, description="how often every drop folder is scanned in full"
    )


class MetricsSettings(Model):
    """A Prometheus metrics endpoint."""

    listen: ListenAddress = Field(
        default="127.0.0.1:9464", description="HOST:PORT to serve /metrics on"
    )


class Config(Model):
    """The whole watchd configuration (``watchd.yaml``)."""

    flowcapture: FlowCaptureSettings = Field(description=FlowCaptureSettings.__doc__)
    state_dir: ConfigPath = Field(
        default=Path("/var/lib/watchd"),
        description="where watchd keeps its state (the SQLite database)",
    )
    database: Annotated[str, AfterValidator(_database_url)] | None = Field(
        default=None,
        description="SQLAlchemy URL of a shared database (PostgreSQL), instead of "
        "state_dir/watchd.db",
        examples=["postgresql+psycopg://watchd@db.example.com/watchd"],
        json_schema_extra=SAMPLE_COMMENTED,
    )
    database_password_file: ConfigPath | None = Field(
        default=None,
        description="file holding the database's password, mode 600 (else the systemd "
        "credential 'watchd-db-password', else ~/.pgpass)",
        examples=["/etc/watchd/db_password"],
        json_schema_extra=SAMPLE_COMMENTED,
    )
    node: NodeSettings = Field(default_factory=NodeSettings, description=NodeSettings.__doc__)
    log: LogSettings = Field(default_factory=LogSettings, description=LogSettings.__doc__)
    transfer: TransferSettings = Field(
        default_factory=TransferSettings, description=TransferSettings.__doc__
    )
    retry: RetrySettings = Field(default_factory=RetrySettings, description=RetrySettings.__doc__)
    scan: ScanSettings = Field(default_factory=ScanSettings, description=ScanSettings.__doc__)
    metrics: MetricsSettings | None = Field(
        default=None,
        description="serve Prometheus metrics (null: off)",
        json_schema_extra=SAMPLE_COMMENTED,
    )
    notify: list[NotifyTarget] = Field(
        default=[],
        description="where to send notifications (batches done, failures, health): "
        "webhooks and email addresses",
    )
    folders_dir: ConfigPath | None = Field(
        default=None,
        description="directory of drop folder files (*.yaml, *.yml), relative to this file",
        examples=["folders.d"],
    )
    folders: list[FolderConfig] = Field(
        default=[], description="drop folders defined inline, same keys as a folders_dir file"
    )
    _origin: Origin | None = PrivateAttr(None)

    @property
    def origin(self) -> Origin | None:
        """Where this config was read from (None when built in code)."""
        return self._origin

    def folder(self, name: str) -> FolderConfig:
        """Return the drop folder called ``name``; raises KeyError."""
        for folder in self.folders:
            if folder.name == name:
                return folder
        raise KeyError(name)


def model_fields_at(model: type[Model], path: tuple[Any, ...]) -> type[Model] | None:
    """Return the model class reached by following ``path`` from ``model`` (None if lost).

    Used to suggest the right key for a typo at any depth.
    """
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue  # list items: the item model is found from the list's field
        if not (isinstance(current, type) and issubclass(current, Model)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = model_in(field.annotation)
    return current if isinstance(current, type) and issubclass(current, Model) else None


def model_in(annotation: Any) -> Any:
    """Return the Model class inside ``X``, ``X | None`` or ``list[X]``, else None."""
    if isinstance(annotation, type) and issubclass(annotation, Model):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = model_in(arg)
        if found is not None:
            return found
    return None
