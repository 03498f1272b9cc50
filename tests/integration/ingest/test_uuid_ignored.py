"""A service that ignores the uuid we send (the field name is our guess).

Tagging and the presence check work from the asset id complete returns; an
upload whose complete answer was lost is found by its name in its batch, so
each file still lands exactly once, tagged, with its asset id recorded.
"""

import pytest

from tests.integration.conftest import wait_for
from tests.integration.ingest.core import MIB
from watchd.store.models import JobState


@pytest.fixture
def ignoring(core):
    core.emulator.set_faults({"uuid_field": "ignored"})
    return core


def landed(core, job_id):
    wait_for(lambda: all(a["visible"] for a in core.assets()))
    job = core.job(job_id)
    (asset,) = [a for a in core.assets() if a["id"] == job.asset_id]
    assert asset["uuid"] != job.uuid, "the service kept a uuid of its own"
    return asset


def test_a_file_is_tagged_and_confirmed_by_its_asset_id(ignoring):
    ignoring.set_folder(after_upload="delete")
    job_id = ignoring.queue("A001.mov")
    assert ignoring.drive(job_id) == [JobState.DONE]
    asset = landed(ignoring, job_id)
    assert asset["tags"] == ["dailies"]
    assert not (ignoring.drop / "A001.mov").exists(), "deleted once its asset was listed"


def test_a_lost_complete_answer_is_found_by_name_in_its_batch_and_lands_once(ignoring):
    ignoring.set_folder(after_upload="delete")
    first = ignoring.queue("Roll1/A001.mov")  # same batch, another asset already known
    assert ignoring.drive(first) == [JobState.DONE]
    ignoring.emulator.set_faults(
        {
            "rules": [
                {"endpoint": "/upload/asset/complete", "after": True, "count": 1, "reset": True}
            ]
        }
    )
    lost = ignoring.queue("Roll1/A002.mov", 11 * MIB)
    ignoring.run(lost)
    assert ignoring.job(lost).state == JobState.UPLOADED and ignoring.job(lost).asset_id is None
    assert ignoring.drive(lost) == [JobState.DONE]
    asset = landed(ignoring, lost)
    assert asset["name"] == "A002.mov" and asset["tags"] == ["dailies"]
    assert len(ignoring.assets()) == 2, "exactly once"
    assert ignoring.job(first).asset_id != ignoring.job(lost).asset_id
