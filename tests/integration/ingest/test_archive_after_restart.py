"""A post-upload move or delete done just before the daemon died, its end not recorded:
after the restart the job says where the source went, instead of "changed or gone"."""

import logging

import pytest

from tests.integration.ingest.core import MIB
from watchd.ingest import post_upload
from watchd.store.models import JobState


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
