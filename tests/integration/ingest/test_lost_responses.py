"""Answers lost after the service acted (the emulator's ``"after": true`` faults).

Each file lands exactly once, in its batch, and no upload is left open where
the daemon can help it.
"""

import logging

import pytest

from tests.integration.conftest import wait_for
from tests.integration.ingest.core import MIB
from watchd.ingest import batches
from watchd.store.models import BatchState, Job, JobState


def lose_once(core, endpoint, **fault):
    core.emulator.set_faults(
        {"rules": [{"endpoint": endpoint, "after": True, "count": 1, **(fault or {"reset": True})}]}
    )


def assert_landed_once(core, *job_ids):
    wait_for(lambda: all(a["visible"] for a in core.assets()))  # processing takes a moment
    assets = core.assets()
    assert len(assets) == len(job_ids)
    for job_id in job_ids:
        job = core.job(job_id)
        assert job.state == JobState.DONE
        (asset,) = [a for a in assets if a["uuid"] == job.uuid]
        assert job.asset_id == asset["id"]
        assert asset["visible"]


def test_a_lost_init_answer_with_a_second_upload_made_lands_once_and_says_what_is_left(
    core, caplog
):
    lose_once(core, "/upload/asset/init")
    job_id = core.queue("A001.mov")
    with caplog.at_level(logging.WARNING):
        assert core.drive(job_id) == [JobState.DONE]
    assert_landed_once(core, job_id)
    assert len(core.uploads("open")) == 1, "the first upload's id never arrived"
    assert "may stay open" in caplog.text


def test_a_lost_init_answer_resumed_by_uuid_leaves_nothing_open(core):
    core.emulator.set_faults({"init_same_uuid": "resume"})
    lose_once(core, "/upload/asset/init")
    job_id = core.queue("A001.mov")
    assert core.drive(job_id) == [JobState.DONE]
    assert_landed_once(core, job_id)
    assert core.uploads("open") == []
    assert len(core.uploads()) == 1


def test_a_lost_init_answer_refused_as_a_duplicate_goes_up_under_a_new_uuid(core):
    core.emulator.set_faults({"init_same_uuid": "refuse"})
    lose_once(core, "/upload/asset/init")
    job_id = core.queue("A001.mov")
    first_uuid = core.job(job_id).uuid
    assert core.drive(job_id) == [JobState.DONE]
    assert_landed_once(core, job_id)
    assert core.job(job_id).uuid != first_uuid


@pytest.mark.parametrize("fault", [{"reset": True}, {"status": 500}, {"status": 502}])
def test_a_lost_complete_answer_is_presumed_complete_closed_and_confirmed(core, fault):
    core.set_folder(after_upload="delete")
    lose_once(core, "/upload/asset/complete", **fault)
    job_id = core.queue("A001.mov", 11 * MIB)
    core.run(job_id)
    job = core.job(job_id)
    assert job.state == JobState.UPLOADED and job.asset_id is None, "presumed complete"
    assert core.drive(job_id) == [JobState.DONE]
    assert_landed_once(core, job_id)
    (call,) = core.snapshot()["complete_upload_calls"]
    assert call["keys"] == [job.key]
    assert not (core.drop / "A001.mov").exists(), "deleted only after the asset was listed"


def test_a_presumed_complete_that_never_completed_is_refused_by_the_close_and_uploaded_again(
    core,
):
    done_id = core.queue("Roll1/A001.mov")
    core.run(done_id)
    lost_id = core.queue("Roll1/A002.mov")
    # The complete never arrives (reset before the service acts), and meanwhile the upload
    # disappears (expired on the service): the retry's NoSuchUpload is misleading.
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/complete", "reset": True, "count": 1}]}
    )

    def upload_expires():
        job = core.job(lost_id)
        core.client.upload_abort(type("U", (), {"upload_id": job.upload_id, "key": job.key})())

    core.hooks.before("/upload/asset/complete", upload_expires)
    core.run(lost_id)
    assert core.job(lost_id).state == JobState.UPLOADED and core.job(lost_id).asset_id is None
    core.close_batches()
    calls = core.snapshot()["complete_upload_calls"]
    assert [c["keys"] for c in calls] == [[core.job(done_id).key]], "the others closed alone"
    assert core.job(lost_id).state == JobState.QUEUED
    assert core.drive(done_id, lost_id) == [JobState.DONE, JobState.DONE]
    assert_landed_once(core, done_id, lost_id)
    assert core.job(lost_id).batch.name == "Roll1"
    assert core.job(lost_id).batch_id != core.job(done_id).batch_id


def test_a_lost_batch_close_answer_is_found_in_the_listing_and_not_sent_again(core):
    lose_once(core, "/complete/upload")
    job_id = core.queue("Roll1/A001.mov")
    assert core.drive(job_id) == [JobState.DONE]
    assert_landed_once(core, job_id)
    (call,) = core.snapshot()["complete_upload_calls"]
    assert not call["repeat"]


def test_an_unanswered_batch_close_that_was_not_acted_on_is_sent_again_after_the_wait(core, caplog):
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/complete/upload", "status": 502, "count": 1}]}
    )
    job_id = core.queue("Roll1/A001.mov")
    core.run(job_id)
    with caplog.at_level(logging.WARNING):
        core.close_batches()
    assert "batch close not confirmed (" in caplog.text and "sent again if none" in caplog.text
    assert "retrying in" not in caplog.text, "it is not simply retried in a few seconds"
    batch = core.job(job_id).batch
    assert batch.state.value == "closing" and batch.close_sent_at is not None
    core.clock.advance(batches.UNCERTAIN_CLOSE_PATIENCE_SECONDS / 2)
    core.close_batches()
    assert core.snapshot()["complete_upload_calls"] == [], "not sent again while it may land"
    assert core.drive(job_id) == [JobState.DONE]
    assert_landed_once(core, job_id)
    assert len(core.snapshot()["complete_upload_calls"]) == 1


def test_a_lost_tagging_answer_is_repeated_without_a_second_effect(core):
    lose_once(core, "/update/asset")
    job_id = core.queue("A001.mov")
    assert core.drive(job_id) == [JobState.DONE]
    assert_landed_once(core, job_id)
    (asset,) = core.assets()
    assert asset["tags"] == ["dailies"]
    assert core.requests("/update/asset") == 2


def test_a_lost_part_answer_sends_the_part_again_and_lands_once(core):
    lose_once(core, "s3:PUT")
    job_id = core.queue("A001.mov", 11 * MIB)
    assert core.drive(job_id) == [JobState.DONE]
    assert_landed_once(core, job_id)


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the daemon catches it."""


def kill():
    raise Killed()


def change(path, how):
    if how == "deleted":
        path.unlink()
    else:
        path.write_bytes(b"a new take" * 1000)


def kill_after_its_complete(core):
    """Two files of a batch; the second's complete is acted on, and the daemon dies
    before it records that. Returns (the other job, this job)."""
    other = core.queue("Roll1/A001.mov", 6 * MIB)
    job_id = core.queue("Roll1/A002.mov", 6 * MIB)
    core.run(other)
    core.hooks.after("/upload/asset/complete", kill)
    with pytest.raises(Killed):
        core.run(job_id)
    assert core.job(job_id).complete_sent_at is not None
    core.hooks.after("/upload/asset/complete", lambda: None)
    return other, job_id


def test_a_file_deleted_after_its_complete_was_acted_on_unrecorded_lands_as_it_was_sent(
    core, caplog
):
    other, job_id = kill_after_its_complete(core)
    change(core.drop / "Roll1/A002.mov", "deleted")  # while the daemon was down
    with caplog.at_level(logging.INFO):
        assert core.drive(other, job_id) == [JobState.DONE, JobState.DONE]
    assert "complete sent again: file=" in caplog.text
    assert_landed_once(core, other, job_id)
    sizes = {a["uuid"]: a["size"] for a in core.assets()}
    assert sizes[core.job(job_id).uuid] == 6 * MIB, "the version sent"
    (call,) = core.snapshot()["complete_upload_calls"]
    assert sorted(call["keys"]) == sorted([core.job(other).key, core.job(job_id).key])


def test_a_file_rewritten_after_its_complete_was_acted_on_unrecorded_is_superseded(core, caplog):
    # Completed as it was sent (not left spinning, its batch held open for ever); then,
    # the file having changed before its batch closed, left out of it for the new version.
    other, job_id = kill_after_its_complete(core)
    change(core.drop / "Roll1/A002.mov", "rewritten")
    with caplog.at_level(logging.INFO):
        assert core.drive(other, job_id) == [JobState.DONE, JobState.CANCELLED]
    assert "complete sent again: file=" in caplog.text
    assert "superseded: the file changed after its upload" in (core.job(job_id).last_error or "")
    (call,) = core.snapshot()["complete_upload_calls"]
    assert call["keys"] == [core.job(other).key]


def test_a_file_rewritten_while_its_unanswered_complete_waits_ends_superseded_not_stuck(core):
    job_id = core.queue("Roll1/A002.mov", 6 * MIB)
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/complete", "reset": True, "count": 4}]}
    )  # every try of this run unanswered, none acted on
    core.run(job_id)
    job = core.job(job_id)
    assert job.state == JobState.WAITING and job.complete_sent_at is not None
    change(core.drop / "Roll1/A002.mov", "rewritten")
    assert core.drive(job_id) == [JobState.CANCELLED]
    assert core.job(job_id).batch.state == BatchState.EMPTY
    assert core.requests("/upload/asset/complete") == 5, "completed as sent, then left out"


def test_a_confirmed_upload_the_close_refuses_by_name_fails_and_the_batch_closes_without_it(
    core, caplog
):
    kept = core.queue("Roll1/A001.mov")
    refused = core.queue("Roll1/A002.mov")
    with core.db.transaction() as session:  # it goes up into another Flow Capture folder
        session.get_one(Job, refused).project_id = 1001  # than its batch's (a bug once)
    with caplog.at_level(logging.INFO):
        assert core.drive(kept, refused) == [JobState.DONE, JobState.FAILED]
    listed = wait_for(lambda: [a for a in core.assets() if a["visible"]])
    assert [a["uuid"] for a in listed] == [core.job(kept).uuid]
    job = core.job(refused)
    assert job.upload_id is None and job.key is None, "a retry uploads it afresh"
    assert "Flow Capture refused it when its batch 'Roll1' closed" in (job.last_error or "")
    assert f"`watchd retry {refused}` uploads it again" in caplog.text
    (call, *_) = core.snapshot()["complete_upload_calls"]
    assert call["keys"] == [core.job(kept).key]


def test_a_confirmed_upload_refused_by_name_leaves_a_presumed_one_of_its_batch_alone(core):
    presumed = core.queue("Roll1/A001.mov")
    refused = core.queue("Roll1/A002.mov")
    lose_once(core, "/upload/asset/complete")
    core.run(presumed)  # acted on, its answer lost: presumed complete
    assert core.job(presumed).state == JobState.UPLOADED and core.job(presumed).asset_id is None
    with core.db.transaction() as session:
        session.get_one(Job, refused).project_id = 1001
    assert core.drive(presumed, refused) == [JobState.DONE, JobState.FAILED]
    assert core.requests("/upload/asset/init") == 2, "the presumed upload was not sent again"
