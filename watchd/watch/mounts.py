"""Which filesystem a drop folder lives on, to warn about network mounts.

inotify only reports what this machine writes: on an SMB or NFS mount, files
other machines write appear to watchd at the next full rescan (every
``scan.rescan_interval``), unless the folder polls (``poll: true``). Polling
a big tree every few seconds costs the file server, so it stays a choice;
watchd says so when a folder that does not poll is on such a mount.
"""

from __future__ import annotations

from pathlib import Path

from watchd.base.mounts import MOUNTINFO, by_point, holding, read_table

# Filesystems whose files other machines may write (kernel and FUSE type names).
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "9p", "afs", "coda", "ceph",
        "glusterfs", "lustre", "beegfs", "gpfs", "davfs", "fuse.sshfs", "fuse.rclone",
        "fuse.glusterfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.cephfs", "fuse.juicefs",
    }
)  # fmt: skip


def mount_type(path: Path, mountinfo: Path = MOUNTINFO) -> str | None:
    """Return the type of the filesystem mounted where ``path`` lives, or None if unknown."""
    try:
        mount = holding(path.resolve(), by_point(read_table(mountinfo)))
    except (OSError, RuntimeError):
        return None
    return mount.type if mount else None


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
