"""Two nodes on one PostgreSQL queue: one frozen past its job's lease (a suspended laptop,
a paused VM) wakes after the other took the job over and completed it. It must not undo
that: the job keeps its upload, its batch closes with it, nothing is aborted."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.ingest.core import MIB, CallHooks, Core, FakeClock
from watchd.base.stop import StopToken
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest import batches
from watchd.store.leases import SharedClaims
from watchd.store.models import JobState

LEASE = 1.0


def node(emulator, root: Path, db, clock) -> Core:
    root.mkdir()
    client = FlowCaptureClient(
        "demo@example.com", "demo-api-key", emulator.api_url, sleep=lambda _s: None
    )
    return Core(emulator, root, db, client, clock, CallHooks(client), StopToken())


def two_nodes(emulator, tmp_path, db):
    clock = FakeClock()
    a, b = (
        node(emulator, tmp_path / "bay-1", db, clock),
        node(emulator, tmp_path / "bay-2", db, clock),
    )
    b.set_folder(root=a.drop)  # the same shared folder on both
    claims = SharedClaims(db, "bay-1", LEASE), SharedClaims(db, "bay-2", LEASE)
    for c in claims:
        c.register()
    return a, b, claims


def taken_over_by(b, claims_b, job_id):
    def frozen_past_the_lease() -> None:
        time.sleep(LEASE * 1.5)
        assert claims_b.next_jobs(1, [], ["dailies"]) == [job_id]
        b.run(job_id)
        claims_b.release(job_id)
        assert b.job(job_id).state == JobState.UPLOADED

    return frozen_past_the_lease


def assert_closed_with_it(a, job_id):
    for _ in range(5):
        a.clock.advance(10)
        a.close_batches()
    job = a.job(job_id)
    assert job.key is not None and job.state == JobState.INGESTING
    (call,) = a.snapshot()["complete_upload_calls"]
    assert call["keys"] == [job.key]
    assert a.uploads("aborted") == []


def test_a_node_frozen_after_recording_its_complete_leaves_the_job_the_other_completed(
    emulator, tmp_path, pg_db
):
    a, b, (claims_a, claims_b) = two_nodes(emulator, tmp_path, pg_db)
    job_id = a.queue("Roll1/A001.mov", 6 * MIB)
    assert claims_a.next_jobs(1, [], ["dailies"]) == [job_id]
    a.hooks.before("/upload/asset/complete", taken_over_by(b, claims_b, job_id))
    a.run(job_id)  # wakes: its complete goes out, and the service no longer knows the upload
    assert_closed_with_it(a, job_id)


def test_a_node_frozen_before_recording_its_complete_sends_none_and_aborts_nothing(
    emulator, tmp_path, pg_db
):
    a, b, (claims_a, claims_b) = two_nodes(emulator, tmp_path, pg_db)
    job_id = a.queue("Roll1/A001.mov", 1 * MIB)  # one part: sent, then frozen
    assert claims_a.next_jobs(1, [], ["dailies"]) == [job_id]
    a.hooks.after("s3:PUT", taken_over_by(b, claims_b, job_id))
    a.run(job_id)
    assert a.requests("/upload/asset/complete") == 1, "only the node that took it over"
    assert_closed_with_it(a, job_id)


def test_two_closers_of_one_batch_send_one_complete_upload(core, monkeypatch):
    job_id = core.queue("Roll1/A001.mov", 1 * MIB)
    core.run(job_id)
    closer = core.pipeline.closer
    (batch_id,) = {core.job(job_id).batch_id}
    other: list[int] = []
    started = False

    def the_other_closer_first(name: str) -> None:
        # A second closer (the node that took the folder over) read the batch too, before
        # this one marked it sent, and goes first.
        nonlocal started
        if name == "batch:before-complete-upload" and not started:
            started = True
            other.append(closer._close(batch_id))

    core.clock.advance(10)
    closer._mark_closing(core.clock.now())
    monkeypatch.setattr(batches, "failpoint", the_other_closer_first)
    assert closer._close(batch_id) == 0
    assert other == [1]
    assert len(core.snapshot()["complete_upload_calls"]) == 1
    assert core.job(job_id).state == JobState.INGESTING
