"""The in-process core takes a file from queued to done, as the daemon does."""

import hashlib

from tests.integration.ingest.core import MIB
from watchd.store.models import JobState


def test_a_queued_file_is_uploaded_closed_tagged_and_done(core):
    job_id = core.queue("Roll1/A001.mov", 11 * MIB)
    assert core.drive(job_id) == [JobState.DONE]
    job = core.job(job_id)
    (asset,) = core.assets()
    assert job.asset_id == asset["id"]
    assert asset["tags"] == ["dailies"]
    (call,) = core.snapshot()["complete_upload_calls"]
    assert call["batch_name"] == "Roll1" and call["keys"] == [job.key]
    assert (core.drop / "Roll1/A001.mov").exists()
    data = (core.drop / "Roll1/A001.mov").read_bytes()
    digests = b"".join(
        hashlib.md5(data[i : i + 5 * MIB]).digest() for i in range(0, len(data), 5 * MIB)
    )
    assert asset["etag"] == f'"{hashlib.md5(digests).hexdigest()}-3"'
