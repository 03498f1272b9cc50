"""Batch names from a drop folder's template.

Placeholders: ``{folder}`` (the drop folder's name), ``{subdir}`` (the first
path component below the drop folder, empty for files at the top),
``{date:FORMAT}`` (the local date the batch opened, strftime format) and
``{host}`` (this machine's short host name).
"""

from __future__ import annotations

import socket
import string
from datetime import datetime
from pathlib import PurePosixPath

PLACEHOLDERS = frozenset({"folder", "subdir", "date", "host"})
DEFAULT_BATCH_TEMPLATE = "{folder} {date:%Y-%m-%d}"


def template_problems(template: str) -> list[str]:
    """Return what is wrong with a batch-name template (empty when it is fine)."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return [f"invalid template {template!r}: {exc}"]
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
        return [f"unknown placeholder(s) {', '.join(unknown)} in {template!r}; use {known}"]
    return []


def subdir_of(relpath: str) -> str:
    """Return the first component of ``relpath`` when the file sits in a subfolder."""
    parts = PurePosixPath(relpath).parts
    return parts[0] if len(parts) > 1 else ""


def batch_name(template: str, *, folder: str, relpath: str, opened: datetime) -> str:
    """Return the batch name for a file; falls back to the folder name when empty."""
    name = template.format(
        folder=folder,
        subdir=subdir_of(relpath),
        date=opened.astimezone(),
        host=socket.gethostname().split(".")[0],
    ).strip()
    return name or folder
