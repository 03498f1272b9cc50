"""Metadata sent with /update/asset: the folder's tags and named groups from the path."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from watchd.base.names import plain_text


@dataclass(frozen=True)
class AssetMetadata:
    """Tags and key -> value pairs for one asset."""

    tags: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.tags and not self.values


def metadata_for(
    relpath: str,
    tags: Sequence[str],
    from_path: str | None,
    fields: Mapping[str, str] | None = None,
) -> AssetMetadata:
    """Return the metadata for the file at ``relpath`` below its drop folder.

    ``fields`` are fixed key -> value pairs. ``from_path`` is a regular
    expression searched in ``relpath``; its named groups that matched become
    metadata keys too (winning over a fixed field of the same name). No match
    adds nothing.
    """
    values: dict[str, Any] = dict(fields or {})
    if from_path:
        match = re.search(from_path, relpath)
        if match:
            found = match.groupdict().items()
            values.update({k: plain_text(v) for k, v in found if v is not None})
    return AssetMetadata(tags=list(tags), values=values)
