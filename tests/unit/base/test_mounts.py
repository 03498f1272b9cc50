"""The mount table, read from a written copy."""

from __future__ import annotations

from pathlib import Path

from watchd.base.mounts import MountWatch, by_point, holding, read_table

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


def test_where_the_table_cannot_be_read_mounts_are_not_followed(tmp_path):
    watch = MountWatch(tmp_path / "no-mountinfo")
    assert not watch.following()
    assert watch.generation(Path("/srv/drop/a.mov")) is None


def test_with_no_mount_or_unmount_a_paths_generation_stays(tmp_path):
    watch = MountWatch()
    assert watch.following()
    first = watch.generation(tmp_path / "a.mov")
    assert first is not None and first == watch.generation(tmp_path / "a.mov")
