"""Open uploads are never forgotten, and a stop reaches every wait."""

import threading
import time

from tests.integration.ingest.core import MIB
from watchd.ingest.aborts import SWEEP_EVERY_SECONDS
from watchd.ingest.dispatcher import Dispatcher
from watchd.store.models import JobState
from watchd.store.queries import uploads_to_abort


def count_to_abort(core):
    with core.db.reading() as session:
        return uploads_to_abort(session)


def test_an_abort_that_fails_keeps_the_upload_until_a_later_sweep_aborts_it(core):
    job_id = core.queue("A001.mov", 11 * MIB)
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/abort", "status": 503, "count": 8}]}
    )
    core.hooks.after("s3:PUT", lambda: core.cancel(job_id))
    core.run(job_id)
    job = core.job(job_id)
    assert job.state == JobState.CANCELLED
    assert job.upload_id is not None, "kept: the abort failed"
    assert count_to_abort(core) == 1
    assert core.pipeline.aborts.sweep() == 1, "still failing: kept for the next sweep"
    assert len(core.uploads("open")) == 1
    core.emulator.set_faults({"rules": []})
    assert core.pipeline.aborts.sweep() == 0
    assert core.job(job_id).upload_id is None
    assert count_to_abort(core) == 0
    assert core.uploads("open") == []


def test_a_job_failed_for_good_during_an_outage_has_its_upload_aborted_later(core):
    job_id = core.queue("A001.mov", 11 * MIB)
    core.hooks.after(
        "s3:PUT", lambda: core.emulator.set_faults({"rules": [{"endpoint": "*", "status": 400}]})
    )
    core.run(job_id)  # a part refused (400): the job fails for good; its abort fails too
    job = core.job(job_id)
    assert job.state == JobState.FAILED
    assert job.upload_id is not None
    core.emulator.set_faults({"rules": []})
    core.pipeline.aborts.sweep()
    assert core.job(job_id).upload_id is None
    assert core.uploads("open") == []


def test_a_completed_upload_is_never_swept(core):
    job_id = core.queue("A001.mov")
    core.run(job_id)
    assert core.job(job_id).state == JobState.UPLOADED
    assert core.pipeline.aborts.pending() == []


def test_a_stop_ends_a_long_retry_after_wait_at_once_and_the_job_resumes_later(core):
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/part", "status": 429, "retry_after": 120}]}
    )
    job_id = core.queue("A001.mov", 11 * MIB)
    core.client.stop = core.stop  # as the daemon's client: waits end when the daemon stops
    worker = threading.Thread(target=core.run, args=(job_id,))
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive(), "waiting out the Retry-After"
    started = time.monotonic()
    core.stop.stop("the daemon is stopping")
    worker.join(10)
    assert not worker.is_alive()
    assert time.monotonic() - started < 5
    assert core.job(job_id).state == JobState.UPLOADING, "nothing counted: it resumes next start"
    assert core.job(job_id).attempts == 0


def test_the_dispatcher_stops_a_cancelled_jobs_parts_within_a_second_or_so(core):
    core.emulator.set_faults({"bandwidth_bytes_per_s": 2 * MIB})
    job_id = core.queue("A001.mov", 40 * MIB)  # about 20 s at this rate
    dispatcher = Dispatcher(core.db, core.pipeline.runner.run, 1, lambda: ["dailies"], core.stop)
    dispatcher.start()
    deadline = time.monotonic() + 20
    while core.requests("s3:PUT") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    core.cancel(job_id)
    cancelled_at = time.monotonic()
    while dispatcher.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped_after = time.monotonic() - cancelled_at
    core.stop.stop("test over")
    assert stopped_after < 5, f"parts kept going for {stopped_after:.1f}s after the cancel"
    assert core.job(job_id).state == JobState.CANCELLED
    assert core.uploads("open") == []
    assert core.assets() == []


def test_sweeps_thin_out_while_every_abort_fails_and_come_back_when_one_works(core):
    job_id = core.queue("A001.mov", 11 * MIB)
    core.emulator.set_faults({"rules": [{"endpoint": "/upload/asset/abort", "status": 503}]})
    core.hooks.after("s3:PUT", lambda: core.cancel(job_id))
    core.run(job_id)
    aborts = core.pipeline.aborts
    waits = []
    for _ in range(4):  # every abort fails: each sweep waits twice as long for the next
        assert aborts.due()
        assert aborts.sweep() == 1
        started = core.clock.monotonic()
        while not aborts.due():
            core.clock.advance(1)
        waits.append(core.clock.monotonic() - started)
    assert waits == sorted(waits) and waits[-1] > 4 * waits[0], waits
    core.emulator.set_faults({"rules": []})
    assert aborts.sweep() == 0 and core.job(job_id).upload_id is None
    started = core.clock.monotonic()
    while not aborts.due():
        core.clock.advance(1)
    assert core.clock.monotonic() - started <= SWEEP_EVERY_SECONDS, "short again once one worked"
