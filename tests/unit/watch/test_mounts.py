"""Finding the filesystem a drop folder is on, from the kernel's mount table."""

from __future__ import annotations

import os
from pathlib import Path

from watchd.base import mounts
from watchd.base.mounts import mount_type
from watchd.watch.mounts import network_mount_note

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 27 0:50 / /mnt/nas rw,relatime shared:20 - cifs //nas/media rw,vers=3.1.1
41 40 8:17 / /mnt/nas/scratch rw,relatime - ext4 /dev/sdb1 rw
42 27 0:51 / /mnt/Card\\040A rw,relatime - fuse.sshfs dit@bay:/cards rw
43 27 0:52 / /mnt/nfs rw - nfs4 srv:/x rw
44 27 0:53 / /mnt/nfs rw - ext4 /dev/sdc1 rw
"""


def test_the_innermost_and_latest_mount_holding_a_path_gives_its_type(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_text(MOUNTINFO)
    assert mount_type(Path("/mnt/nas/dailies/Day01"), table) == "cifs"
    assert mount_type(Path("/mnt/nas"), table) == "cifs"
    assert mount_type(Path("/mnt/nas/scratch/x"), table) == "ext4"  # a disk mounted inside
    assert mount_type(Path("/mnt/nasty"), table) == "ext4"  # not under /mnt/nas
    assert mount_type(Path("/mnt/Card A/DCIM"), table) == "fuse.sshfs"  # \040 is a space
    assert mount_type(Path("/mnt/nfs/a"), table) == "ext4"  # mounted over the NFS share
    assert mount_type(Path("/srv"), tmp_path / "no-such-table") is None


def test_a_mount_point_whose_name_is_not_utf8_is_matched(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_bytes(
        b"27 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        b"40 27 0:50 / /mnt/caf\xe9\\040share rw - cifs //nas/x rw\n"
    )
    folder = Path(os.fsdecode(b"/mnt/caf\xe9 share/dailies"))
    assert mount_type(folder, table) == "cifs"


def test_this_machine_s_own_mount_table_is_read():
    assert mount_type(Path("/proc/self")) == "proc"
    assert mount_type(Path("/")) is not None


def test_a_folder_that_does_not_poll_on_a_network_mount_gets_a_note(tmp_path, monkeypatch):
    local = mount_type(tmp_path)
    assert local is not None
    assert network_mount_note("dailies", tmp_path, poll=False) is None  # a local disk
    monkeypatch.setattr(mounts, "NETWORK_FILESYSTEMS", frozenset({local}))  # as if shared
    note = network_mount_note("dailies", tmp_path, poll=False)
    assert note == (
        f"folder dailies: {tmp_path} is on a {local} mount: files other machines write there "
        "are only found by the rescan (scan.rescan_interval); set poll: true to see them "
        "within poll_interval"
    )
    assert network_mount_note("dailies", tmp_path, poll=True) is None
