"""Which filesystem a drop folder lives on, to warn about network mounts.

inotify only reports what this machine writes: on an SMB or NFS mount, files
other machines write appear to watchd at the next full rescan (every
``scan.rescan_interval``), unless the folder polls (``poll: true``). Polling
a big tree every few seconds costs the file server, so it stays a choice;
watchd says so when a folder that does not poll is on such a mount.
"""

from __future__ import annotations

import os
import re
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


def mount_type(path: Path, mountinfo: Path = MOUNTINFO) -> str | None:
    """Return the type of the filesystem mounted where ``path`` lives, or None if unknown."""
    try:
        target = path.resolve()
        lines = mountinfo.read_bytes().splitlines()  # names in any encoding, as the kernel has them
    except (OSError, RuntimeError):
        return None
    found: tuple[int, str] | None = None  # (length of the mount point, type)
    for line in lines:
        fields = line.split(b" ")
        if b"-" not in fields[6:]:
            continue
        point = Path(os.fsdecode(_ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), fields[4])))
        kind = os.fsdecode(fields[fields.index(b"-", 6) + 1])
        if (target == point or point in target.parents) and (
            found is None or len(point.parts) >= found[0]  # the innermost; later ones cover
        ):
            found = (len(point.parts), kind)
    return found[1] if found else None


def network_mount_note(name: str, path: Path, poll: bool) -> str | None:
    """Return a warning for a folder on a network mount that does not poll, else None."""
    kind = mount_type(path)
    if poll or kind not in NETWORK_FILESYSTEMS:
        return None
    return (
        f"folder {name}: {path} is on a {kind} mount: files other machines write there "
        "are only found by the rescan (scan.rescan_interval); set poll: true to see "
        "them within poll_interval"
    )
