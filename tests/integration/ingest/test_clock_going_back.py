"""Waits set before the system clock went back do not last as long as the jump.

An RTC kept in local time, corrected by NTP after a boot, moves the clock
back by hours: a 10 s retry wait or a batch's idle time counted from a
"future" file would then stall uploads for those hours.
"""

from __future__ import annotations

from datetime import timedelta

from tests.integration.ingest.core import RETRY, Core
from watchd.ingest.failures import longest_wait
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
    assert core.requeue() == 1
    assert core.job(failed).state == JobState.QUEUED
    assert core.job(patient).state == JobState.WAITING
    assert "the system clock went back: 1 waiting job(s)" in caplog.text
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
    assert core.close_batches() == 1
    assert batch_state(core, job_id) == BatchState.CLOSED


def batch_state(core: Core, job_id: int) -> BatchState:
    batch = core.job(job_id).batch
    assert batch is not None
    return batch.state
