"""Is a drop folder usable? Missing, unmounted and unreadable folders are unhealthy.

An unhealthy folder is never read as "every file was deleted": nothing is
cancelled or forgotten because of it, and watching resumes when it is back.
"""

from __future__ import annotations

import enum
import os
import re
from pathlib import Path


class FolderHealth(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"  # the path does not exist or is not a folder
    UNMOUNTED = "unmounted"  # it was a mount point and is not any more
    UNREADABLE = "unreadable"  # no permission to list it
    WATCH_LIMIT = "watch-limit"  # inotify limits reached; only rescans find files
    OBSERVER_DIED = "observer-died"  # the event thread stopped; restarting it


MOUNTINFO = Path("/proc/self/mountinfo")


def is_mount_point(path: Path) -> bool:
    """Return True if ``path`` is a mount point, bind mounts included.

    os.path.ismount misses a bind mount from the same filesystem (same device
    as its parent), so the kernel's mount table is read where there is one.
    """
    try:
        table = MOUNTINFO.read_text()
    except OSError:
        return os.path.ismount(path)
    wanted = os.path.realpath(path)
    for line in table.splitlines():
        fields = line.split()
        if len(fields) > 4 and _unescape(fields[4]) == wanted:
            return True
    return False


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (\040 for a space, and so on)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def check_root(root: Path, *, was_mount: bool) -> tuple[FolderHealth, str]:
    """Return the health of a drop folder and a sentence saying why."""
    if not root.is_dir():
        return FolderHealth.MISSING, f"{root} does not exist or is not a folder"
    if was_mount and not is_mount_point(root):
        return FolderHealth.UNMOUNTED, f"{root} was a mount point and is not mounted now"
    if not os.access(root, os.R_OK | os.X_OK):
        return FolderHealth.UNREADABLE, f"{root} cannot be read by this user"
    return FolderHealth.OK, ""
