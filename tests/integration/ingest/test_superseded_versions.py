"""A file that changed after its upload, before its batch closed (written with pauses
longer than its settle time, or copied again): the batch gets it once, as it ends up."""

import logging
import os

from tests.integration.conftest import wait_for
from tests.integration.ingest.core import MIB
from tests.integration.ingest.test_custody import queue_existing
from watchd.store.models import JobState


def test_a_version_superseded_before_its_batch_closed_is_left_out_and_the_new_one_goes_in(
    core, caplog
):
    first = core.queue("Roll1/A001.mov", 2 * MIB)  # the copy paused: 2 MiB settled...
    other = core.queue("Roll1/A002.mov", 1 * MIB)
    core.run(first)
    core.run(other)
    source = core.drop / "Roll1/A001.mov"
    with source.open("ab") as grown:  # ...and went on
        grown.write(os.urandom(3 * MIB))
    final = queue_existing(core, source)
    with caplog.at_level(logging.WARNING):
        assert core.drive(first, other, final) == [
            JobState.CANCELLED,
            JobState.DONE,
            JobState.DONE,
        ]
    (call,) = core.snapshot()["complete_upload_calls"]
    assert sorted(call["keys"]) == sorted([core.job(other).key, core.job(final).key])
    wait_for(lambda: len([a for a in core.assets() if a["visible"]]) == 2)
    listed = {a["name"]: a["size"] for a in core.assets() if a["visible"]}
    assert listed == {"A001.mov": 5 * MIB, "A002.mov": 1 * MIB}
    assert "superseded: the file changed after its upload (2097152 bytes when uploaded, " in (
        core.job(first).last_error or ""
    )
    assert f"superseded: file={source} job={first}" in caplog.text


def test_a_file_gone_or_unseen_at_the_close_is_not_taken_for_superseded(core):
    job_id = core.queue("Roll1/A001.mov", 1 * MIB)
    core.run(job_id)
    (core.drop / "Roll1/A001.mov").unlink()  # deleted after its whole upload: it went up
    assert core.drive(job_id) == [JobState.DONE]
    (call,) = core.snapshot()["complete_upload_calls"]
    assert call["keys"] == [core.job(job_id).key]


def test_a_file_that_changes_mid_upload_stops_sending_at_once(core, caplog):
    job_id = core.queue("Roll1/A001.mov", 40 * MIB)  # eight parts, two at a time
    source = core.drop / "Roll1/A001.mov"

    def grows() -> None:
        with source.open("ab") as out:
            out.write(b"more")

    core.hooks.after("s3:PUT", grows)
    with caplog.at_level(logging.WARNING):
        core.run(job_id)
    assert core.job(job_id).state == JobState.CANCELLED
    assert "changed since it was queued" in (core.job(job_id).last_error or "")
    assert core.requests("s3:PUT") <= 3, "the parts in flight finish; no new one starts"
    assert core.uploads("aborted") and not core.uploads("open")


def same_bytes_new_inode(path) -> None:
    """What rsync -a (a new file renamed over) or a share mounted again does."""
    before = path.stat()
    copy = path.with_name("." + path.name + ".tmp")
    copy.write_bytes(path.read_bytes())
    os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(copy, path)
    assert path.stat().st_ino != before.st_ino


def test_a_file_given_a_new_inode_but_the_same_bytes_and_times_is_not_superseded(core):
    job_id = core.queue("Roll1/A001.mov", 2 * MIB)
    core.run(job_id)
    same_bytes_new_inode(core.drop / "Roll1/A001.mov")
    assert core.drive(job_id) == [JobState.DONE]
    (call,) = core.snapshot()["complete_upload_calls"]
    assert call["keys"] == [core.job(job_id).key]


def test_a_superseded_file_retried_is_uploaded_afresh(core):
    core.set_folder(tags=())
    job_id = core.queue("Roll1/A001.mov", 2 * MIB)
    core.run(job_id)
    with (core.drop / "Roll1/A001.mov").open("ab") as out:
        out.write(os.urandom(MIB))
    core.close_batches()
    job = core.job(job_id)
    assert job.state == JobState.CANCELLED
    assert (job.uploaded_at, job.asset_id, job.key) == (None, None, None), "nothing of it kept"
    assert core.retry(job_id) == [job_id]
    assert core.job(job_id).state == JobState.QUEUED
