"""Which paths in a drop folder are candidate media files.

Junk never enters: hidden files and folders, macOS resource forks, OS thumbnail
and settings files, editors' caches, and the names producers give files while
they are still being written. Then the folder's own include/exclude globs.
Globs are matched case-insensitively (cameras write ``.MOV`` as often as
``.mov``); a glob without ``/`` matches the file name, one with ``/`` the path
below the drop folder.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase, translate

# Exact names (compared case-insensitively) that are never media.
# ``ascmhl`` is an ASC MHL offload history: checked against, never uploaded (watchd.custody).
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", ".fcpcache", "ascmhl"})
# Name patterns of partial or temporary files, and of resource forks.
JUNK_PATTERNS = ("._*", "*.part", "*.partial", "*.tmp", "*.filepart", "*.aspx")


_JUNK_RE = re.compile("|".join(translate(pattern) for pattern in JUNK_PATTERNS))


@functools.lru_cache(maxsize=4096)  # folder names repeat for every file below them
def is_junk_name(name: str) -> bool:
    """Return True for a file or folder name that watchd always ignores."""
    lowered = name.lower()
    if lowered.startswith(".") or lowered in JUNK_NAMES:
        return True
    return _JUNK_RE.match(lowered) is not None


class PathFilter:
    """Decides, from its path below the drop folder, whether a file is wanted."""

    def __init__(self, include: Sequence[str] = ("*",), exclude: Sequence[str] = ()):
        self.include = tuple(g.lower() for g in include) or ("*",)
        self.exclude = tuple(g.lower() for g in exclude)

    def wants_dir(self, relpath: str) -> bool:
        """Return False for a folder whose contents are never wanted (hidden, caches)."""
        return not any(is_junk_name(part) for part in relpath.split("/") if part)

    def wants_file(self, relpath: str) -> bool:
        """Return True if the file at ``relpath`` (below the drop folder) should be uploaded."""
        parts = [part for part in relpath.split("/") if part]
        if not parts or any(is_junk_name(part) for part in parts):
            return False
        full = "/".join(parts).lower()
        name = parts[-1].lower()
        if self.include != ("*",) and not _matches_any(full, name, self.include):
            return False
        return not _matches_any(full, name, self.exclude)


def _matches_any(full: str, name: str, globs: Sequence[str]) -> bool:
    return any(fnmatchcase(full if "/" in glob else name, glob) for glob in globs)
