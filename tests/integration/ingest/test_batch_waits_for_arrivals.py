"""A batch past its idle time stays open while a file that will join it is being written."""

from __future__ import annotations

import logging

from tests.integration.ingest.core import MIB, Core
from watchd.ingest.batches import HOLD_MAX_SECONDS
from watchd.store.models import Batch, BatchState, JobState


def batch_states(core: Core) -> dict[str, BatchState]:
    with core.db.reading() as session:
        return {b.name: b.state for b in session.query(Batch)}


def test_a_batch_stays_open_for_a_file_still_being_written_and_closes_after_it(core: Core, caplog):
    caplog.set_level(logging.INFO)
    core.set_folder(batch_idle_seconds=60)
    job = core.queue("Roll1/A001.mov", MIB)
    core.run(job)
    arriving = {"dailies": {"Roll1": "Roll1/A002.mov"}}
    core.pipeline.closer.arriving = lambda folder: arriving.get(folder, {})
    core.clock.advance(600)  # long past its idle time
    assert core.close_batches() == 0
    assert core.close_batches() == 0
    assert batch_states(core) == {"Roll1": BatchState.OPEN}
    assert core.job(job).state is JobState.UPLOADED
    said = [r.getMessage() for r in caplog.records if "batch stays open" in r.getMessage()]
    assert said == [
        "batch stays open: folder=dailies batch='Roll1' file=Roll1/A002.mov is still being "
        "written and will join it (the batch closes once it has, or in 51m at the latest)"
    ], "said once"
    arriving["dailies"] = {"Roll2": "Roll2/B001.mov"}  # what is written now goes elsewhere
    assert core.close_batches() == 1
    assert batch_states(core) == {"Roll1": BatchState.CLOSED}
    assert core.requests("/complete/upload") == 1


def test_a_file_that_never_stops_changing_holds_its_batch_an_hour_at_most(core: Core):
    core.set_folder(batch_idle_seconds=60)
    job = core.queue("Roll1/A001.mov", MIB)
    core.run(job)
    core.pipeline.closer.arriving = lambda _folder: {"Roll1": "Roll1/growing.log"}
    core.clock.advance(60 + HOLD_MAX_SECONDS - 1)
    assert core.close_batches() == 0
    core.clock.advance(1)
    assert core.close_batches() == 1
    assert batch_states(core) == {"Roll1": BatchState.CLOSED}
