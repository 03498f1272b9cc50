"""The document's result booleans (ok, updated, deleted) can say no: a false is an error."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import folder_id
from tests.integration.flowcapture.ingested import ingest_one
from watchd.flowcapture.errors import FlowCaptureError, OperationRefusedError
from watchd.flowcapture.upload import upload_file


def answer_false(emulator, endpoint: str) -> None:
    emulator.set_faults({"rules": [{"endpoint": endpoint, "answer_false": True, "count": 1}]})


def test_update_asset_answered_false_is_an_error_naming_the_endpoint(emulator, client, tmp_path):
    asset = ingest_one(client, tmp_path)
    assert client.update_asset(asset.uuid, tags=["kept"]) is True
    answer_false(emulator, "/update/asset")
    with pytest.raises(OperationRefusedError) as caught:
        client.update_asset(asset.uuid, tags=["lost"])
    assert "/update/asset" in str(caught.value)
    assert "updated=false" in str(caught.value)
    assert isinstance(caught.value, FlowCaptureError)
    (listed,) = client.get_assets(asset.folder)
    assert listed.extra["tags"] == ["kept"], "a refused update must not have taken effect"


def test_delete_comment_answered_false_leaves_the_comment(emulator, client, tmp_path):
    asset = ingest_one(client, tmp_path)
    comment = client.create_comment(asset.uuid, "keep me")
    answer_false(emulator, "/delete/comment")
    with pytest.raises(OperationRefusedError, match="/delete/comment answered deleted=false"):
        client.delete_comment(comment.id)
    assert [c.id for c in client.get_comments(asset.uuid)] == [comment.id]
    assert client.delete_comment(comment.id) is True  # the rule was spent: now it says yes
    assert client.get_comments(asset.uuid) == []


def test_complete_upload_answered_false_is_an_error_and_can_be_sent_again(
    emulator, client, tmp_path
):
    dailies = folder_id(client, "Dailies")
    source = tmp_path / "clip.mov"
    source.write_bytes(b"x" * 4096)
    result = upload_file(client, source, project_id=dailies, uuid=str(uuid.uuid4()), batch_name="B")
    answer_false(emulator, "/complete/upload")
    with pytest.raises(OperationRefusedError, match="/complete/upload answered ok=false"):
        client.complete_upload(dailies, [result.upload.key], batch_name="B")
    assert OperationRefusedError.retryable
    assert client.complete_upload(dailies, [result.upload.key], batch_name="B") is True


def test_the_emulator_refuses_answer_false_on_an_endpoint_without_a_flag(emulator):
    with pytest.raises(ValueError, match="answer_false"):
        emulator.set_faults({"rules": [{"endpoint": "/get/assets", "answer_false": True}]})
