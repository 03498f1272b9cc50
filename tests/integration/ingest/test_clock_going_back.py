"""Waits set before the system clock went back do not last as long as the jump.

An RTC kept in local time, corrected by NTP after a boot, moves the clock
back by hours: a 10 s retry wait or a batch's idle time counted from a
"future" file would then stall uploads for those hours. The daemon looks for
such waits once after its start and after each step back it sees
(``clock_set_back``); its ordinary ticks take every wait as it was set (a
reload may have shortened backoff_max since).
"""

from __future__ import annotations

from datetime import timedelta

from tests.integration.ingest.core import DAILIES, MIB, RETRY, Core
from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.ingest import batches
from watchd.ingest.failures import longest_wait
from watchd.ingest.queueing import BatchRule, enqueue
from watchd.store.models import BatchState, JobState
from watchd.store.transitions import move_job

TWO_HOURS = 2 * 3600


def test_a_retry_set_before_the_clock_went_back_goes_at_once_a_long_wait_set_after_does_not(
    core: Core, caplog
):
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/init", "status": 503, "count": 1}]}
    )
    failed = core.queue("Roll1/A001.mov")
    core.run(failed)
    assert core.job(failed).state == JobState.WAITING  # a few seconds' wait (RETRY)
    core.clock.set_back(TWO_HOURS)
    patient = core.queue("Roll1/A002.mov")
    with core.db.transaction() as session:  # told to wait as long as the service may ask
        long = longest_wait(RETRY) - timedelta(minutes=2)
        now = core.clock.now()
        assert move_job(
            session, patient, JobState.WAITING, allowed=(JobState.QUEUED,), now=now,
            next_attempt_at=now + long,
        )  # fmt: skip
    assert core.requeue() == 0  # an ordinary tick: waits are taken as set
    assert core.pipeline.requeue(clock_set_back=True) == 1  # after the step back was seen
    assert core.job(failed).state == JobState.QUEUED
    assert core.job(patient).state == JobState.WAITING
    assert "1 waiting job(s) were due later than any wait watchd sets" in caplog.text
    core.run(failed)
    assert core.job(failed).state == JobState.UPLOADED


def test_a_batch_whose_last_file_came_before_the_clock_went_back_closes_after_its_idle_time(
    core: Core, caplog
):
    core.set_folder(batch_idle_seconds=60)
    job_id = core.queue("Roll1/A001.mov")
    core.run(job_id)
    core.clock.set_back(TWO_HOURS)
    assert core.close_batches() == 0
    assert "the system clock went back: batch='Roll1'" in caplog.text
    core.clock.advance(61)
    assert core.close_batches() == 1
    assert core.job(job_id).state == JobState.INGESTING


def test_a_batch_close_retry_set_before_the_clock_went_back_goes_at_once(core: Core):
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/complete/upload", "status": 429, "retry_after": 1, "count": 1}]}
    )
    job_id = core.queue("Roll1/A001.mov")
    core.run(job_id)
    assert core.close_batches() == 0
    assert batch_state(core, job_id) == BatchState.CLOSING
    core.clock.set_back(TWO_HOURS)
    assert core.close_batches() == 0
    assert core.pipeline.closer.run_once(clock_set_back=True) == 1
    assert batch_state(core, job_id) == BatchState.CLOSED


def batch_state(core: Core, job_id: int) -> BatchState:
    batch = core.job(job_id).batch
    assert batch is not None
    return batch.state


def test_a_lost_close_answer_sent_before_the_clock_went_back_is_sent_again_after_the_patience(
    core: Core,
):
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/complete/upload", "status": 502, "count": 1}]}
    )
    job_id = core.queue("Roll1/A001.mov")
    core.run(job_id)
    core.close_batches()  # sent; no answer: it may have landed
    batch = core.job(job_id).batch
    assert batch is not None and batch.close_sent_at is not None
    core.emulator.set_faults({"rules": [{"endpoint": "/complete/upload", "status": 502}]})
    core.clock.set_back(TWO_HOURS)
    core.pipeline.closer.run_once(clock_set_back=True)  # its patience starts from now
    assert core.requests("/complete/upload") == 1  # not sent again yet: it may land
    core.clock.advance(batches.UNCERTAIN_CLOSE_PATIENCE_SECONDS + 10)
    core.close_batches()
    assert len(core.snapshot()["complete_upload_calls"]) == 0  # the 502s never acted
    assert core.requests("/complete/upload") >= 2  # but it was sent again


def test_a_batch_of_a_folder_this_closer_does_not_serve_is_left_alone(core: Core, caplog):
    # Another node's folder: its last file's time is that node's clock, maybe ahead of ours.
    path = core.write("Roll9/B001.mov", MIB)
    other = SettledFile("elsewhere", path, "Roll9/B001.mov", Fingerprint.of(path.stat()))
    ahead = core.clock.now() + timedelta(minutes=30)
    job = enqueue(core.db, other, BatchRule(DAILIES, "{subdir}"), ahead)
    assert job is not None
    core.close_batches()
    batch = core.job(job.id).batch
    assert batch is not None and batch.last_file_at == ahead
    assert "the system clock went back" not in caplog.text
