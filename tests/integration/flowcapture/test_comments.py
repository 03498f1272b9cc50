import uuid

import pytest

from tests.integration.conftest import folder_id, wait_for
from watchd.flowcapture.errors import NotFoundError
from watchd.flowcapture.upload import upload_file


@pytest.fixture
def asset_uuid(client, tmp_path):
    dailies = folder_id(client, "Dailies")
    source = tmp_path / "clip.mov"
    source.write_bytes(b"c" * 2048)
    ident = str(uuid.uuid4())
    result = upload_file(client, source, project_id=dailies, uuid=ident, batch_name="B")
    client.complete_upload(dailies, [result.upload.key], batch_name="B")
    wait_for(lambda: [a for a in client.get_assets(dailies) if a.uuid == ident])
    return ident


def test_comments_are_created_listed_in_order_and_threaded(client, asset_uuid):
    first = client.create_comment(asset_uuid, "Too dark", color="#ff00ee", marker_time=12.5)
    second = client.create_comment(asset_uuid, "Agreed", parent_comment_id=first.id)
    assert first.has_marker is True
    assert first.marker_time == 12.5
    assert first.color == "#ff00ee"
    assert second.is_reply is True
    assert second.parent_id == first.id

    listed = client.get_comments(asset_uuid)
    assert [c.id for c in listed] == [first.id, second.id]
    assert listed[0].has_reply is True
    assert listed[0].type == "COMMENT"
    assert listed[0].user_first_name


def test_comments_accept_the_asset_id_as_well_as_the_uuid(client, asset_uuid):
    comment = client.create_comment(asset_uuid, "by uuid")
    assert comment.asset_id is not None
    assert [c.id for c in client.get_comments(comment.asset_id)] == [comment.id]


def test_a_comment_is_updated_and_deleted(client, asset_uuid):
    comment = client.create_comment(asset_uuid, "first take")
    updated = client.update_comment(comment.id, description="second take", color="#00ff00")
    assert updated.description == "second take"
    assert updated.color == "#00ff00"
    assert client.delete_comment(comment.id) is True
    assert client.get_comments(asset_uuid) == []


def test_deleting_an_unknown_comment_is_not_found(client, asset_uuid):
    with pytest.raises(NotFoundError):
        client.delete_comment(99999999)
