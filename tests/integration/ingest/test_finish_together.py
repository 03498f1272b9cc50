"""A folder with nothing to tag has its files done when their batch closes, in one commit."""

import logging
import time

from sqlalchemy import update

from tests.integration.ingest.core import MIB
from tests.integration.ingest.test_lost_responses import lose_once
from watchd.store.models import Job, JobState


def upload_all(core, *relpaths):
    """Queue and upload the files (each up to ``uploaded``); return their jobs."""
    job_ids = [core.queue(relpath, MIB) for relpath in relpaths]
    for job_id in job_ids:
        core.run(job_id)
    assert [core.job(j).state for j in job_ids] == [JobState.UPLOADED] * len(job_ids)
    return job_ids


def test_the_files_of_a_folder_with_nothing_to_tag_are_done_when_their_batch_closes(core, caplog):
    core.set_folder(tags=())
    job_ids = upload_all(core, "Roll1/A001.mov", "Roll1/A002.mov", "Roll1/A003.mov")
    with caplog.at_level(logging.INFO, logger="watchd.ingest.jobs"):
        assert core.close_batches() == 1
    jobs = [core.job(j) for j in job_ids]
    assert [job.state for job in jobs] == [JobState.DONE] * 3, "done without running them"
    assert all(job.finished_at == core.clock.now() for job in jobs)
    assert all(job.tagged_at is not None and job.last_error is None for job in jobs)
    assert core.requests("/update/asset") == 0
    done = [r.getMessage() for r in caplog.records if r.getMessage().startswith("done:")]
    assert done == [
        f"done: file={job.path} job={job.id} batch='Roll1' asset={job.asset_id} uuid={job.uuid}"
        for job in jobs
    ]
    assert (core.drop / "Roll1/A001.mov").exists()


def test_a_tagging_or_moving_folder_leaves_its_files_to_the_runner(core, tmp_path):
    job_id = upload_all(core, "Roll1/A001.mov")[0]
    core.close_batches()
    assert core.job(job_id).state == JobState.INGESTING, "tags still to send"
    core.run(job_id)
    assert core.job(job_id).state == JobState.DONE
    assert core.assets()[0]["tags"] == ["dailies"]

    core.set_folder(tags=(), move_to=tmp_path / "archive")
    job_id = upload_all(core, "Roll2/B001.mov")[0]
    core.close_batches()
    assert core.job(job_id).state == JobState.INGESTING, "the source still to move"
    assert core.drive(job_id) == [JobState.DONE]
    assert (tmp_path / "archive/Roll2/B001.mov").exists()
    assert core.job(job_id).tagged_at is not None, "committed before the move, and kept"


def test_jobs_are_finished_together_a_few_at_a_time(core, monkeypatch):
    monkeypatch.setattr("watchd.ingest.jobs.FINISHED_TOGETHER_AT_MOST", 2)
    core.set_folder(tags=())
    job_ids = upload_all(core, *(f"Roll1/A00{n}.mov" for n in range(5)))
    core.close_batches()
    assert [core.job(j).state for j in job_ids] == [JobState.DONE] * 5


def test_an_upload_presumed_complete_is_left_to_the_runner_to_find(core):
    core.set_folder(tags=())
    lose_once(core, "/upload/asset/complete")
    presumed, known = upload_all(core, "Roll1/A001.mov", "Roll1/A002.mov")
    assert core.job(presumed).asset_id is None
    core.close_batches()
    assert core.job(known).state == JobState.DONE
    assert core.job(presumed).state == JobState.INGESTING, "its asset id is looked up first"
    assert core.drive(presumed) == [JobState.DONE]
    assert core.job(presumed).asset_id is not None


def test_a_batch_found_closed_after_its_lost_answer_has_its_files_done_too(core):
    core.set_folder(tags=())
    lose_once(core, "/complete/upload")
    job_id = upload_all(core, "Roll1/A001.mov")[0]
    assert core.close_batches() == 0, "no answer: not known to be closed yet"
    assert core.job(job_id).state == JobState.UPLOADED
    for _ in range(50):  # until the member is listed: the close was acted on
        core.clock.advance(10)
        time.sleep(0.1)  # (the emulator processes assets in real time)
        core.close_batches()
        if core.job(job_id).state != JobState.UPLOADED:
            break
    assert core.job(job_id).state == JobState.DONE, "done by the close, not left to the runner"
    assert len(core.snapshot()["complete_upload_calls"]) == 1


def test_a_job_a_node_holds_a_lease_on_is_left_to_that_node(core):
    core.set_folder(tags=())
    leased, free = upload_all(core, "Roll1/A001.mov", "Roll1/A002.mov")
    with core.db.transaction() as session:  # (leases are PostgreSQL's; the column is shared)
        session.execute(update(Job).where(Job.id == leased).values(lease_node="node-b"))
    core.close_batches()
    assert core.job(free).state == JobState.DONE
    assert core.job(leased).state == JobState.INGESTING


def test_a_failure_to_finish_them_together_leaves_them_to_the_runner(core, caplog, monkeypatch):
    core.set_folder(tags=())
    job_id = upload_all(core, "Roll1/A001.mov")[0]

    def broken(*_args):
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(core.pipeline.runner, "finish_together", broken)
    assert core.close_batches() == 1
    assert "its files could not be finished together (disk I/O error)" in caplog.text
    assert core.job(job_id).state == JobState.INGESTING
    assert core.job(job_id).batch.state.value == "closed"
    core.run(job_id)
    assert core.job(job_id).state == JobState.DONE
