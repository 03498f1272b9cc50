"""What identifies one version of a file, and a file that finished being written.

The watcher produces these, the queue stores them, the upload step checks the
file against them before it completes and before the source is touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)  # slots: one per file of a huge folder in memory
class Fingerprint:
    """What identifies one version of a file: same file, same size, same mtime."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> Fingerprint:
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def same_version(self, other: Fingerprint) -> bool:
        """Return True if both describe the same version of the same file.

        The device number is left out: a share that is unmounted and mounted
        again often gets a new one, and its files must not look new.
        """
        return (self.inode, self.size, self.mtime_ns) == (other.inode, other.size, other.mtime_ns)

    def same_content(self, other: Fingerprint) -> bool:
        """Return True if the file at one path still holds what ``other`` saw there.

        Its size and mtime: a copy that kept its times (``rsync -a`` writes a new
        file and renames it over) or a share mounted again gives it a new inode,
        not new bytes.
        """
        return (self.size, self.mtime_ns) == (other.size, other.mtime_ns)


@dataclass(frozen=True)
class SettledFile:
    """A file that finished being written, ready to be queued."""

    folder: str  # drop folder name
    path: Path  # absolute path
    relpath: str  # path below the drop folder, with / separators
    fingerprint: Fingerprint

    @property
    def root(self) -> str | None:
        """The drop folder's path as the start of ``path`` (with its last /), if it is one."""
        return drop_root(str(self.path), self.relpath)


def drop_root(path: str, relpath: str) -> str | None:
    """Return ``path`` without ``relpath`` at its end (the drop folder, with its last /)."""
    if not relpath or not path.endswith("/" + relpath):
        return None
    return path[: len(path) - len(relpath)]
