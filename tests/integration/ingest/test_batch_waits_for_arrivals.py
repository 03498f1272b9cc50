"""A batch past its idle time stays open while a file that will join it is being written."""

from __future__ import annotations

from tests.integration.ingest.core import MIB, Core
from watchd.store.models import Batch, BatchState, JobState


def batch_states(core: Core) -> dict[str, BatchState]:
    with core.db.reading() as session:
        return {b.name: b.state for b in session.query(Batch)}


def test_a_batch_stays_open_for_a_file_still_being_written_and_closes_after_it(core: Core):
    core.set_folder(batch_idle_seconds=60)
    job = core.queue("Roll1/A001.mov", MIB)
    core.run(job)
    arriving = {"dailies": {"Roll1"}}
    core.pipeline.closer.arriving = lambda folder: arriving.get(folder, set())
    core.clock.advance(600)  # long past its idle time
    assert core.close_batches() == 0
    assert batch_states(core) == {"Roll1": BatchState.OPEN}
    assert core.job(job).state is JobState.UPLOADED
    arriving["dailies"] = {"Roll2"}  # what is written now goes elsewhere
    assert core.close_batches() == 1
    assert batch_states(core) == {"Roll1": BatchState.CLOSED}
    assert core.requests("/complete/upload") == 1
