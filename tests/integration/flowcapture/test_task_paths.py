"""The task endpoint's two spellings: the client finds the one the service serves."""

from __future__ import annotations

import pytest

from tests.integration.flowcapture.ingested import ingest_one
from watchd.flowcapture.download import download_asset
from watchd.flowcapture.errors import NotFoundError


@pytest.mark.parametrize("served", ["messages", "message"])
def test_a_proxy_download_polls_the_spelling_the_service_serves(emulator, client, tmp_path, served):
    emulator.set_faults({"tasks_path": served, "download_processing_s": 0.3})
    asset = ingest_one(client, tmp_path)
    path = download_asset(client, asset.asset_id, "1080p", tmp_path / "out", poll_seconds=0.05)
    assert path.stat().st_size > 0
    assert client.tasks_path == f"/get/tasks/{served}"
    requests = emulator.snapshot()["requests"]
    polls = requests.get(f"/get/tasks/{served}", 0)
    assert polls >= 2, "the task should have been polled while it processed"
    if served == "message":  # one 404 on the first spelling, then never again
        assert requests.get("/get/tasks/messages", 0) == 1
    else:
        assert "/get/tasks/message" not in requests


@pytest.mark.parametrize("served", ["messages", "message"])
def test_an_unknown_task_is_not_found_under_either_spelling(emulator, client, served):
    emulator.set_faults({"tasks_path": served})
    with pytest.raises(NotFoundError):
        client.get_task_messages(["987654"])
    assert client.tasks_path is None, "a 404 on both spellings settles nothing"


def test_the_remembered_spelling_is_not_abandoned_on_a_later_404(emulator, client, tmp_path):
    emulator.set_faults({"tasks_path": "message"})
    asset = ingest_one(client, tmp_path)
    task = client.download_direct([asset.asset_id], ["1080p"]).successful_processes[0]
    assert client.get_task_messages([task.task_id])[0].task_id == task.task_id
    before = emulator.snapshot()["requests"].get("/get/tasks/messages", 0)
    with pytest.raises(NotFoundError):
        client.get_task_messages(["987654"])
    assert emulator.snapshot()["requests"].get("/get/tasks/messages", 0) == before
