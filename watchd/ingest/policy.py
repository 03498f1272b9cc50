"""What the pipeline needs to know about a drop folder and about transfers.

Built by the daemon from the configuration (with the project resolved to an
id), so the ingest code does not depend on the config file's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from watchd.config.limits import DEFAULT_CONNECTIONS

FILES_PER_CONNECTION = 2  # files at once by default, per connection (see files_at_once)
KEEP = "keep"
DELETE = "delete"
# `watchd upload` names the folder of its jobs and batches this, then the project id.
UPLOAD_FOLDER_PREFIX = "upload:"


@dataclass(frozen=True)
class FolderPolicy:
    """One drop folder's upload rules."""

    name: str
    root: Path
    project_id: int
    batch_template: str
    batch_idle_seconds: float
    tags: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)  # fixed metadata for every asset
    from_path: str | None = None
    after_upload: str = KEEP  # KEEP or DELETE; ignored when move_to is set
    move_to: Path | None = None
    verify: str = "auto"  # auto | mhl | off: checks against an ASC MHL offload history
    receipt: str = "state_dir"  # state_dir | dir | history | off
    receipt_dir: Path | None = None  # where standalone receipts go (state_dir/receipts or dir)
    allow_unverified_delete: bool = False


@dataclass(frozen=True)
class TransferPolicy:
    """How much is sent at once: budgets shared by all files, and caps."""

    part_size: int = 16 * 1024 * 1024
    parallel_files: int = FILES_PER_CONNECTION * DEFAULT_CONNECTIONS  # see files_at_once
    parallel_parts: int = 8  # parts of one file in flight at once
    bandwidth_bytes_per_second: int | None = None  # None: unlimited
    connections: int = DEFAULT_CONNECTIONS  # PUTs in flight, and API calls, all files together
    buffer_bytes: int = 256 * 1024 * 1024  # parts held in memory, all files together


def files_at_once(configured: int | None, connections: int) -> int:
    """How many files go up side by side: the configured cap, or twice the connections.

    A small file spends three of its four requests on API calls (init, its
    part's URL, complete) and one on its PUT, which go to different hosts
    under budgets of their own (``connections`` each): with as many files as
    connections, each budget would stand half idle while the other is used.
    """
    return configured or FILES_PER_CONNECTION * connections
