"""The kernel's mount table: what is mounted where, and when that changes.

Read from ``/proc/self/mountinfo`` as bytes (mount points in any encoding). The
kernel marks that file with a priority event at every mount and unmount; a
thread waiting for those tells, per mount point, when what is mounted there
changed. A disk unmounted and another put in its place can show the very same
device number, inode, size and times (a clone of a card in the same reader), and
even the same mount id (the kernel reuses those): only the change tells them apart.
"""

from __future__ import annotations

import logging
import os
import re
import select
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

MOUNTINFO = Path("/proc/self/mountinfo")
_ESCAPE = re.compile(rb"\\([0-7]{3})")  # mountinfo writes space as \040, tab as \011, ...


@dataclass(frozen=True)
class Mount:
    point: Path
    type: str  # the filesystem type (kernel or FUSE name)
    line: bytes  # the whole entry: ids, device, options, source


def read_table(mountinfo: Path = MOUNTINFO) -> list[Mount]:
    """Return the mounts in the table's order (later ones cover earlier ones on the same
    point). Raises OSError when it cannot be read."""
    mounts = []
    for line in mountinfo.read_bytes().splitlines():
        fields = line.split(b" ")
        if b"-" not in fields[6:]:
            continue
        point = Path(os.fsdecode(_ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), fields[4])))
        mounts.append(Mount(point, os.fsdecode(fields[fields.index(b"-", 6) + 1]), line))
    return mounts


def by_point(mounts: list[Mount]) -> dict[Path, Mount]:
    """Return the mount seen at each point (the latest of those stacked there)."""
    return {mount.point: mount for mount in mounts}


def holding(target: Path, points: dict[Path, Mount]) -> Mount | None:
    """Return the mount ``target`` (a resolved path) lives on: the innermost."""
    for here in (target, *target.parents):
        mount = points.get(here)
        if mount is not None:
            return mount
    return None


class MountWatch:
    """Generations of mount points, moved on whenever what is mounted there changes.

    One thread (started at the first look) waits for the kernel's events. A change
    it cannot place (an unmount and a mount again between two of its looks) moves
    every generation on.
    """

    def __init__(self, mountinfo: Path = MOUNTINFO) -> None:
        self._mountinfo = mountinfo
        self._lock = threading.Lock()
        self._started = False
        self._table: list[Mount] | None = None  # None: cannot be followed
        self._points: dict[Path, Mount] = {}
        self._moved: dict[Path, int] = {}  # mount point -> its generation
        self._everything = 0

    def following(self) -> bool:
        """True if mounts and unmounts are seen here (the table can be read)."""
        with self._lock:
            self._start()
            return self._table is not None

    def generation(self, path: Path) -> tuple[Path, int, int] | None:
        """Return what identifies the mount ``path`` (resolved) lives on now: its point
        and generations; None if mounts cannot be followed here."""
        with self._lock:
            self._start()
            if self._table is None:
                return None
            mount = holding(path, self._points)
            point = mount.point if mount else Path("/")
            return point, self._moved.get(point, 0), self._everything

    def _start(self) -> None:
        """Read the table and start the thread, at the first look (with the lock held)."""
        if self._started:
            return
        self._started = True
        try:
            handle = self._mountinfo.open("rb")  # the events are this open file's
        except OSError:
            return
        try:
            self._table = read_table(self._mountinfo)
        except OSError:
            handle.close()
            return
        self._points = by_point(self._table)
        thread = threading.Thread(
            target=self._follow, args=(handle,), name="mount-watch", daemon=True
        )
        thread.start()

    def _follow(self, handle: BinaryIO) -> None:
        poll = select.poll()
        poll.register(handle, select.POLLPRI | select.POLLERR)
        while True:
            poll.poll()
            try:
                table = read_table(self._mountinfo)
            except OSError:
                log.warning("the mount table can no longer be read: %s", self._mountinfo)
                with self._lock:
                    self._table = None
                return
            with self._lock:
                self._take(table)

    def _take(self, table: list[Mount]) -> None:
        """Move on the generation of every point whose mounts differ (with the lock held)."""
        before: dict[Path, list[bytes]] = {}
        after: dict[Path, list[bytes]] = {}
        for mounts, lines in ((self._table or [], before), (table, after)):
            for mount in mounts:
                lines.setdefault(mount.point, []).append(mount.line)
        changed = [p for p in before.keys() | after.keys() if before.get(p) != after.get(p)]
        for point in changed:
            self._moved[point] = self._moved.get(point, 0) + 1
        if not changed:
            self._everything += 1
        self._table = table
        self._points = by_point(table)


MOUNTS = MountWatch()  # this process's
