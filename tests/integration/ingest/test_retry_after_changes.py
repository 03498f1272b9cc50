"""`watchd retry` of a file whose drop folder was pointed at another Flow Capture folder
since it failed: it lands, in one project, and its batch closes."""

from tests.integration.ingest.core import MIB
from watchd.store.models import BatchState, JobState

DAY_01 = 1001  # the emulator's other folder; the drop folder uploads into 1000 at first


def test_a_failed_file_retried_after_its_folder_moved_goes_where_the_folder_uploads_now(core):
    job_id = core.queue("Roll1/A001.mov", 6 * MIB)
    core.emulator.set_faults({"rules": [{"endpoint": "/upload/asset/init", "status": 400}]})
    assert core.drive(job_id) == [JobState.FAILED]
    assert core.job(job_id).batch.state == BatchState.EMPTY
    core.emulator.set_faults({"rules": []})
    core.set_folder(project_id=DAY_01)  # the operator's edit and reload
    assert core.retry(job_id) == [job_id]
    assert core.drive(job_id) == [JobState.DONE]
    job = core.job(job_id)
    assert job.project_id == job.batch.project_id == DAY_01
    assert job.batch.state == BatchState.CLOSED
    (asset,) = core.assets()
    assert asset["project_id"] == DAY_01
