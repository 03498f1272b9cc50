"""Which filesystem a drop folder lives on, to warn about network mounts.

inotify only reports what this machine writes: on an SMB or NFS mount, files
other machines write appear to watchd at the next full rescan (every
``scan.rescan_interval``), unless the folder polls (``poll: true``). Polling
a big tree every few seconds costs the file server, so it stays a choice;
watchd says so when a folder that does not poll is on such a mount.
"""

from __future__ import annotations

from pathlib import Path

from watchd.base import mounts


def network_mount_note(name: str, path: Path, poll: bool) -> str | None:
    """Return a warning for a folder on a network mount that does not poll, else None."""
    kind = mounts.mount_type(path)
    if poll or kind not in mounts.NETWORK_FILESYSTEMS:
        return None
    return (
        f"folder {name}: {path} is on a {kind} mount: files other machines write there "
        "are only found by the rescan (scan.rescan_interval); set poll: true to see "
        "them within poll_interval"
    )
