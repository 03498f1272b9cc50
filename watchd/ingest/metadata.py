"""Metadata sent with /update/asset: the folder's tags and named groups from the path."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AssetMetadata:
    """Tags and key -> value pairs for one asset."""

    tags: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.tags and not self.values


def metadata_for(relpath: str, tags: Sequence[str], from_path: str | None) -> AssetMetadata:
    """Return the metadata for the file at ``relpath`` below its drop folder.

    ``from_path`` is a regular expression searched in ``relpath``; its named
    groups that matched become metadata keys. No match adds nothing.
    """
    values: dict[str, Any] = {}
    if from_path:
        match = re.search(from_path, relpath)
        if match:
            values = {k: v for k, v in match.groupdict().items() if v is not None}
    return AssetMetadata(tags=list(tags), values=values)
