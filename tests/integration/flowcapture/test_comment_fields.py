"""/update/comment with every documented field: markers removed, replies moved."""

from __future__ import annotations

import pytest

from tests.integration.flowcapture.ingested import ingest_one
from watchd.flowcapture.errors import BadRequestError


@pytest.fixture
def asset(client, tmp_path):
    return ingest_one(client, tmp_path)


def test_has_marker_false_removes_the_marker(client, asset):
    comment = client.create_comment(asset.uuid, "look here", marker_time=4.5)
    assert (comment.has_marker, comment.marker_time) == (True, 4.5)
    updated = client.update_comment(comment.id, has_marker=False)
    assert updated.has_marker is False
    assert updated.description == "look here"
    (listed,) = client.get_comments(asset.uuid)
    assert listed.has_marker is False


def test_a_comment_becomes_a_reply_and_a_top_level_comment_again(client, asset):
    first = client.create_comment(asset.uuid, "first")
    second = client.create_comment(asset.uuid, "second", color="#00ff00")
    moved = client.update_comment(second.id, parent_comment_id=first.id)
    assert (moved.is_reply, moved.parent_id, moved.color) == (True, first.id, "#00ff00")
    assert {c.id: c.has_reply for c in client.get_comments(asset.uuid)}[first.id] is True
    back = client.update_comment(second.id, is_reply=False)
    assert (back.is_reply, back.parent_id) == (False, None)
    assert {c.id: c.has_reply for c in client.get_comments(asset.uuid)}[first.id] is False


def test_a_comment_cannot_become_a_reply_to_its_own_reply(client, asset):
    parent = client.create_comment(asset.uuid, "parent")
    child = client.create_comment(asset.uuid, "child", parent_comment_id=parent.id)
    with pytest.raises(BadRequestError, match="parent_comment_id"):
        client.update_comment(parent.id, parent_comment_id=child.id)


def test_a_marker_time_sets_the_marker_even_with_has_marker_false(client, asset):
    comment = client.create_comment(asset.uuid, "no marker yet")
    updated = client.update_comment(comment.id, marker_time=2.0, has_marker=False)
    assert (updated.has_marker, updated.marker_time) == (True, 2.0)
