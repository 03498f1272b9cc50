from datetime import UTC, datetime
from pathlib import Path

from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.ingest.queueing import BatchRule, enqueue, record_known_asset

RULE = BatchRule(project_id=7, template="{subdir}")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def settled(relpath, device=1, inode=10, size=100, mtime=5):
    return SettledFile(
        "dailies", Path("/drop") / relpath, relpath, Fingerprint(device, inode, size, mtime)
    )


def test_a_new_file_is_queued_with_a_uuid_in_its_batch(db):
    job = enqueue(db, settled("Roll1/a.mov"), RULE, NOW)
    assert job is not None
    assert len(job.uuid) == 36
    assert job.batch is not None and job.batch.name == "Roll1"


def test_the_same_version_is_not_queued_twice(db):
    assert enqueue(db, settled("a.mov"), RULE, NOW) is not None
    assert enqueue(db, settled("a.mov"), RULE, NOW) is None


def test_a_file_renamed_within_the_folder_is_the_same_version(db):
    enqueue(db, settled("a.mov"), RULE, NOW)
    assert enqueue(db, settled("renamed.mov"), RULE, NOW) is None


def test_a_remounted_share_with_new_device_and_inode_numbers_is_not_new(db):
    enqueue(db, settled("a.mov", device=1, inode=10), RULE, NOW)
    assert enqueue(db, settled("a.mov", device=99, inode=4242), RULE, NOW) is None


def test_new_content_is_queued_again(db):
    enqueue(db, settled("a.mov", size=100, mtime=5), RULE, NOW)
    assert enqueue(db, settled("a.mov", size=120, mtime=6), RULE, NOW) is not None


def test_files_join_the_open_batch_of_their_subfolder(db):
    first = enqueue(db, settled("Roll1/a.mov", inode=1), RULE, NOW)
    second = enqueue(db, settled("Roll1/b.mov", inode=2), RULE, NOW)
    other = enqueue(db, settled("Roll2/c.mov", inode=3), RULE, NOW)
    assert first and second and other
    assert first.batch_id == second.batch_id != other.batch_id


def in_folder(folder, root, relpath, inode=10):
    return SettledFile(
        folder, Path(root) / relpath, relpath, Fingerprint(1, inode, size=100, mtime_ns=5)
    )


def test_a_file_moved_into_another_drop_folder_is_that_folders_new_file(db):
    enqueue(db, in_folder("dailies", "/drop/dailies", "Roll1/a.mov"), RULE, NOW)
    vfx = BatchRule(project_id=8, template="{subdir}")
    moved = enqueue(db, in_folder("vfx", "/drop/vfx", "a.mov"), vfx, NOW)
    assert moved is not None, "the same inode in another drop folder is not skipped"
    assert (moved.folder, moved.project_id, moved.path) == ("vfx", 8, "/drop/vfx/a.mov")
    assert record_known_asset(db, in_folder("vfx", "/drop/vfx", "a.mov"), vfx, NOW, 5) is None
    assert record_known_asset(db, in_folder("edit", "/drop/edit", "a.mov"), vfx, NOW, 5)


def test_a_drop_folder_renamed_in_the_config_keeps_its_files_known(db):
    enqueue(db, in_folder("dailies", "/drop/dailies", "Roll1/a.mov"), RULE, NOW)
    renamed = in_folder("day-one", "/drop/dailies", "Roll1/a.mov")
    assert enqueue(db, renamed, RULE, NOW) is None
    assert record_known_asset(db, renamed, RULE, NOW, 5) is None
    moved_within = in_folder("day-one", "/drop/dailies", "Roll2/a.mov")
    assert enqueue(db, moved_within, RULE, NOW) is None
