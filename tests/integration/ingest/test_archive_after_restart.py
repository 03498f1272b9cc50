"""A post-upload move or delete done just before the daemon died, its end not recorded:
after the restart the job says where the source went, instead of "changed or gone"."""

import logging

import pytest

from tests.integration.ingest.core import MIB
from watchd.ingest import post_upload
from watchd.store.models import JobState
from watchd.store.queries import list_jobs


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the daemon catches it."""


def dying_after(action):
    def act(*args, **kwargs):
        action(*args, **kwargs)
        raise Killed()

    return act


@pytest.mark.parametrize("name_taken", [False, True])
def test_a_move_done_before_a_restart_is_recorded_where_it_went(
    core, tmp_path, monkeypatch, caplog, name_taken
):
    archive = tmp_path / "archive"
    core.set_folder(move_to=archive)
    if name_taken:  # someone else's file at the name: the move took A001_1.mov
        (archive / "Roll1").mkdir(parents=True)
        (archive / "Roll1" / "A001.mov").write_bytes(b"x" * 6 * MIB)
    job_id = core.queue("Roll1/A001.mov", 6 * MIB)
    monkeypatch.setattr(
        "watchd.ingest.finish_step.move_source", dying_after(post_upload.move_source)
    )
    with pytest.raises(Killed):
        core.drive(job_id)
    assert not (core.drop / "Roll1/A001.mov").exists()
    monkeypatch.undo()
    with caplog.at_level(logging.INFO):
        assert core.drive(job_id) == [JobState.DONE]
    landed = archive / "Roll1" / ("A001_1.mov" if name_taken else "A001.mov")
    assert core.job(job_id).archived_to == str(landed)
    assert f"to={landed} (before a restart)" in caplog.text
    assert "changed or gone" not in caplog.text


def test_a_delete_done_before_a_restart_is_said_as_done(core, monkeypatch, caplog):
    core.set_folder(after_upload="delete")
    job_id = core.queue("A001.mov", 6 * MIB)
    monkeypatch.setattr(
        "watchd.ingest.finish_step.delete_source", dying_after(post_upload.delete_source)
    )
    with pytest.raises(Killed):
        core.drive(job_id)
    monkeypatch.undo()
    with caplog.at_level(logging.INFO):
        assert core.drive(job_id) == [JobState.DONE]
    assert "deleted after upload: file=" in caplog.text and "(before a restart)" in caplog.text
    assert "changed or gone" not in caplog.text


def test_a_file_waiting_for_flow_capture_to_process_it_says_so_in_watchd_jobs(core, tmp_path):
    core.set_folder(move_to=tmp_path / "archive")
    core.emulator.set_faults({"processing_delay_s": 60.0})
    job_id = core.queue("A001.mov", 1 * MIB)
    for _ in range(3):
        core.step(job_id)
        core.clock.advance(10)
    with core.db.reading() as session:
        (row,) = list_jobs(session)
    assert row["state"] == "waiting" and row["error"] is None
    assert row["note"] == "uploaded: waiting for Flow Capture to process it and list the asset"
