"""Which paths in a drop folder are candidate media files.

Junk never enters: hidden files and folders, macOS resource forks, OS thumbnail
and settings files, editors' caches, and the names producers give files while
they are still being written. Then the folder's own include/exclude globs.
Globs are matched case-insensitively (cameras write ``.MOV`` as often as
``.mov``); a glob without ``/`` matches the file name, one with ``/`` the path
below the drop folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

# Exact names (compared case-insensitively) that are never media.
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", ".fcpcache"})
# Name patterns of partial or temporary files, and of resource forks.
JUNK_PATTERNS = ("._*", "*.part", "*.partial", "*.tmp", "*.filepart", "*.aspx")


def is_junk_name(name: str) -> bool:
    """Return True for a file or folder name that watchd always ignores."""
    lowered = name.lower()
    if lowered.startswith(".") or lowered in JUNK_NAMES:
        return True
    return any(fnmatchcase(lowered, pattern) for pattern in JUNK_PATTERNS)


class PathFilter:
    """Decides, from its path below the drop folder, whether a file is wanted."""

    def __init__(self, include: Sequence[str] = ("*",), exclude: Sequence[str] = ()):
        self.include = tuple(g.lower() for g in include) or ("*",)
        self.exclude = tuple(g.lower() for g in exclude)

    def wants_dir(self, relpath: str) -> bool:
        """Return False for a folder whose contents are never wanted (hidden, caches)."""
        return not any(is_junk_name(part) for part in PurePosixPath(relpath).parts)

    def wants_file(self, relpath: str) -> bool:
        """Return True if the file at ``relpath`` (below the drop folder) should be uploaded."""
        path = PurePosixPath(relpath)
        if any(is_junk_name(part) for part in path.parts):
            return False
        if not _matches_any(path, self.include):
            return False
        return not _matches_any(path, self.exclude)


def _matches_any(path: PurePosixPath, globs: Sequence[str]) -> bool:
    name = path.name.lower()
    full = str(path).lower()
    return any(fnmatchcase(full if "/" in glob else name, glob) for glob in globs)
