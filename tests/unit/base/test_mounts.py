"""The mount table, read from a written copy: the mount a path lives on."""

from __future__ import annotations

from pathlib import Path

from watchd.base.mounts import by_point, holding, keeps_own_ctime, read_table

TABLE = """\
27 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
41 27 8:17 / /media/A001 rw,relatime - exfat /dev/sdb1 rw
57 27 8:18 / /media/A001 rw,relatime - exfat /dev/sdc1 rw
"""


def test_the_latest_mount_on_a_point_holds_the_paths_below_it(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_text(TABLE)
    mounts = by_point(read_table(table))
    found = holding(Path("/media/A001/CLIPS/C001.mov"), mounts)
    assert found is not None and found.line.startswith(b"57 ") and found.type == "exfat"
    root = holding(Path("/srv/drop"), mounts)
    assert root is not None and root.point == Path("/")


def test_only_local_filesystems_with_a_ctime_of_their_own_qualify(tmp_path):
    # This machine's test folders are on ext4 (or tmpfs); /proc is neither.
    assert keeps_own_ctime(tmp_path / "A001" / "C001.mov")
    assert not keeps_own_ctime(Path("/proc/self/status"))
