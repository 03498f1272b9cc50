"""The kernel's mount table: which filesystem a path lives on.

Read from ``/proc/self/mountinfo`` as bytes (mount points in any encoding).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
# Filesystems whose files other machines may write (kernel and FUSE type names).
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "9p", "afs", "coda", "ceph",
        "glusterfs", "lustre", "beegfs", "gpfs", "davfs", "fuse.sshfs", "fuse.rclone",
        "fuse.glusterfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.cephfs", "fuse.juicefs",
    }
)  # fmt: skip
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


def mount_type(path: Path, mountinfo: Path | None = None) -> str | None:
    """Return the type of the filesystem mounted where ``path`` lives, or None if unknown."""
    try:
        mount = holding(path.resolve(), by_point(read_table(mountinfo or MOUNTINFO)))
    except (OSError, RuntimeError):
        return None
    return mount.type if mount else None


# Local filesystems that keep a ctime of their own, moved by every write and every
# change of times: not FAT (vfat and msdos keep ctime equal to mtime, so setting
# the mtime back sets the ctime back too), not network or FUSE filesystems (this
# machine caches their attributes), not ones unknown here.
OWN_CTIME_FILESYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "zfs", "bcachefs", "tmpfs", "exfat", "ntfs3"}
)


def keeps_own_ctime(path: Path) -> bool:
    """True if ``path`` lives on a local filesystem whose ctime tells every change."""
    return mount_type(path) in OWN_CTIME_FILESYSTEMS
