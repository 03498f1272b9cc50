"""An operator's cancel arriving at every moment of a job's life.

Whatever the moment, the outcome is one of two: no asset, no open upload and
the source untouched; or (complete already sent) the asset lands in its batch
and the source is still untouched.
"""

import pytest

from tests.integration.ingest.core import MIB
from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.cli.batches_cmd import render
from watchd.ingest.queueing import BatchRule, enqueue
from watchd.store.models import JobState
from watchd.store.operator_actions import CancelOutcome
from watchd.store.queries import list_batches


def assert_cancelled_cleanly(core, job_id, source):
    job = core.job(job_id)
    assert job.state == JobState.CANCELLED
    assert job.operator_cancelled_at is not None
    assert job.upload_id is None, "the upload was aborted and forgotten"
    assert core.assets() == []
    assert core.uploads("open") == [], "no multipart upload left open on the service"
    assert core.snapshot()["complete_upload_calls"] == []
    assert source.exists()


@pytest.mark.parametrize(
    ("moment", "key"),
    [
        ("after", "/upload/asset/init"),  # the service made the upload; its answer is on its way
        ("before", "/upload/asset/part"),  # asking for a part's URL
        ("after", "s3:PUT"),  # a part was stored; its ETag is on its way
    ],
)
def test_a_cancel_before_complete_leaves_no_asset_no_upload_and_the_source(core, moment, key):
    job_id = core.queue("A001.mov", 16 * MIB)
    source = core.drop / "A001.mov"
    before = source.stat()
    getattr(core.hooks, moment)(key, lambda: core.cancel(job_id))
    core.run(job_id)
    assert_cancelled_cleanly(core, job_id, source)
    assert source.stat().st_mtime_ns == before.st_mtime_ns
    assert core.drive(job_id) == [JobState.CANCELLED]
    assert core.requests("/upload/asset/complete") == 0


def test_a_cancel_while_parts_are_in_flight_stops_them_and_sends_no_more(core):
    job_id = core.queue("A001.mov", 30 * MIB)  # six parts, two in flight at a time
    stop = core.stop.child()

    def cancel_as_the_dispatcher_would():
        core.cancel(job_id)
        stop.stop("cancelled by an operator")  # the dispatcher's cancel poll

    core.hooks.after("s3:PUT", cancel_as_the_dispatcher_would)
    core.run(job_id, stop)
    assert_cancelled_cleanly(core, job_id, core.drop / "A001.mov")
    assert core.requests("s3:PUT") <= 3, "no new part started after the cancel"


def test_a_cancel_while_complete_is_in_flight_cannot_undo_it_but_keeps_the_source(core):
    core.set_folder(after_upload="delete")
    job_id = core.queue("A001.mov", 6 * MIB)
    outcomes = []
    core.hooks.before("/upload/asset/complete", lambda: outcomes.append(core.cancel(job_id)))
    core.run(job_id)
    assert outcomes[0].outcome == CancelOutcome.SOURCE_KEPT
    assert core.job(job_id).state == JobState.UPLOADED
    assert core.drive(job_id) == [JobState.DONE]
    (asset,) = core.assets()
    assert asset["visible"], "closed into its batch: an invisible asset helps no one"
    assert (core.drop / "A001.mov").exists(), "the folder deletes sources, but not this one"
    assert core.job(job_id).archived_to is None


def test_a_cancel_while_the_batch_closes_keeps_the_source_from_the_move(core, tmp_path):
    archive = tmp_path / "archive"
    core.set_folder(move_to=archive)
    job_id = core.queue("A001.mov", 6 * MIB)
    core.run(job_id)
    outcomes = []
    core.hooks.after("/complete/upload", lambda: outcomes.append(core.cancel(job_id)))
    assert core.drive(job_id) == [JobState.DONE]
    assert outcomes[0].outcome == CancelOutcome.SOURCE_KEPT
    assert (core.drop / "A001.mov").exists()
    assert not archive.exists() or not any(archive.rglob("*.mov"))


def test_a_cancel_while_waiting_for_processing_keeps_the_source(core, tmp_path):
    core.set_folder(after_upload="delete")
    core.emulator.set_faults({"processing_delay_s": 2})
    job_id = core.queue("A001.mov", 6 * MIB)
    core.run(job_id)
    core.close_batches()
    core.hooks.after("/get/assets", lambda: core.cancel(job_id))
    assert core.drive(job_id) == [JobState.DONE]
    assert (core.drop / "A001.mov").exists()


def test_a_cancel_after_the_move_began_is_refused_as_too_late(core, tmp_path):
    core.set_folder(move_to=tmp_path / "archive")
    job_id = core.queue("A001.mov", 6 * MIB)
    core.run(job_id)
    core.close_batches()
    outcomes = []
    claim = core.pipeline.runner.finish._claim_source

    def claim_then_cancel(job):  # the cancel lands right after the move was claimed
        won = claim(job)
        outcomes.append(core.cancel(job.id))
        return won

    core.pipeline.runner.finish._claim_source = claim_then_cancel
    assert core.drive(job_id) == [JobState.DONE]
    assert outcomes[0].outcome == CancelOutcome.TOO_LATE
    assert core.job(job_id).archived_to is not None


def test_an_operators_cancel_sticks_until_the_file_changes_or_is_retried(core):
    job_id = core.queue("A001.mov", 6 * MIB)
    core.cancel(job_id)
    source = core.drop / "A001.mov"
    settled = SettledFile("dailies", source, "A001.mov", Fingerprint.of(source.stat()))
    rule = BatchRule(1000, "{subdir}")
    assert enqueue(core.db, settled, rule, core.clock.now()) is None, "restart or reload"
    assert core.retry(job_id) == [job_id]
    assert core.drive(job_id) == [JobState.DONE]
    assert len(core.assets()) == 1


def test_a_changed_file_is_queued_again_after_an_operators_cancel(core):
    job_id = core.queue("A001.mov", 6 * MIB)
    core.cancel(job_id)
    source = core.write("A001.mov", 7 * MIB)
    settled = SettledFile("dailies", source, "A001.mov", Fingerprint.of(source.stat()))
    assert enqueue(core.db, settled, BatchRule(1000, "{subdir}"), core.clock.now()) is not None


def test_the_daemons_own_cancel_does_not_stick(core):
    job_id = core.queue("A001.mov", 6 * MIB)
    source = core.drop / "A001.mov"
    stat = source.stat()
    source.rename(core.drop / "elsewhere.tmp")  # gone while queued
    core.run(job_id)
    assert core.job(job_id).state == JobState.WAITING, "looked for once more: renamed?"
    assert core.job(job_id).attempts == 0
    core.clock.advance(10)
    core.requeue()
    core.run(job_id)
    assert core.job(job_id).state == JobState.CANCELLED
    assert core.job(job_id).operator_cancelled_at is None
    (core.drop / "elsewhere.tmp").rename(source)
    settled = SettledFile("dailies", source, "A001.mov", Fingerprint.of(stat))
    assert enqueue(core.db, settled, BatchRule(1000, "{subdir}"), core.clock.now()) is not None


def test_retry_refuses_a_cancelled_job_whose_file_is_already_queued_again(core):
    job_id = core.queue("A001.mov", 6 * MIB)
    source = core.drop / "A001.mov"
    source.rename(core.drop / "away.tmp")
    core.drive(job_id)  # the daemon cancels: the file vanished (looked for twice)
    (core.drop / "away.tmp").rename(source)
    settled = SettledFile("dailies", source, "A001.mov", Fingerprint.of(source.stat()))
    again = enqueue(core.db, settled, BatchRule(1000, "{subdir}"), core.clock.now())
    assert again is not None
    assert core.retry(job_id) == []


def test_a_failed_file_is_dismissed_by_a_cancel_and_can_still_be_retried(core):
    core.emulator.set_faults({"rules": [{"endpoint": "/upload/asset/init", "status": 403}]})
    job_id = core.queue("A001.mov", 1 * MIB)
    assert core.drive(job_id) == [JobState.FAILED]
    refused = core.job(job_id).last_error
    assert core.cancel(job_id).outcome == CancelOutcome.CANCELLED
    job = core.job(job_id)
    assert job.state == JobState.CANCELLED and job.operator_cancelled_at is not None
    assert job.last_error == f"cancelled by an operator after it failed: {refused}"
    core.emulator.set_faults({"rules": []})
    assert core.retry(job_id) == [job_id]
    assert core.drive(job_id) == [JobState.DONE]


def test_watchd_batches_counts_the_files_that_went_in_and_says_the_others(core):
    kept = core.queue("Roll1/A001.mov", 1 * MIB)
    dropped = core.queue("Roll1/A002.mov", 1 * MIB)
    core.cancel(dropped)
    assert core.drive(kept) == [JobState.DONE]
    with core.db.reading() as session:
        (row,) = list_batches(session)
    assert (row["files"], row["left_out"]) == (1, 1)
    assert render([row]).splitlines()[1].endswith("Roll1  (+1 cancelled or failed)")
