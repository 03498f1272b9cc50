"""Comments: create, list (earliest first), replies, update, delete."""

from __future__ import annotations

import pytest


@pytest.fixture
def asset(api, token):
    return api.uploaded_asset(token)


def test_a_created_comment_has_the_documented_fields(api, token, asset):
    comment = api.call(
        "/create/comment", token, asset_id=asset["uuid"], description="Too dark",
        color="#FF00EE", has_marker=True, marker_time=12.5,
    )  # fmt: skip
    expected = {
        "description": "Too dark", "color": "#ff00ee", "has_marker": True, "marker_time": 12.5,
        "has_drawing": False, "is_reply": False, "parent_id": None, "has_reply": False,
        "asset_id": asset["id"], "project_id": api.DAILIES, "type": "COMMENT",
        "user_first_name": "Demo", "user_last_name": "User",
    }  # fmt: skip
    assert {k: comment[k] for k in expected} == expected
    assert isinstance(comment["id"], int)


def test_comments_list_earliest_first_with_replies_marked(api, token, asset):
    first = api.call("/create/comment", token, asset_id=asset["id"], description="one")
    second = api.call("/create/comment", token, asset_id=asset["id"], description="two")
    reply = api.call(
        "/create/comment", token, asset_id=asset["id"], description="re: one",
        is_reply=True, parent_comment_id=first["id"],
    )  # fmt: skip
    assert reply["is_reply"] is True
    assert reply["parent_id"] == first["id"]
    listed = api.call("/get/comments", token, asset_id=asset["uuid"])
    assert [c["id"] for c in listed] == [first["id"], second["id"], reply["id"]]
    assert [c["has_reply"] for c in listed] == [True, False, False]


def test_io_points_can_exist_for_clients_to_ignore(api, token, asset):
    point = api.call(
        "/create/comment", token, asset_id=asset["id"], description="in", type="IO_POINT"
    )
    assert point["type"] == "IO_POINT"
    api.error("/create/comment", 400, token, asset_id=asset["id"], description="x", type="OTHER")


def test_update_changes_only_the_given_fields(api, token, asset):
    comment = api.call(
        "/create/comment", token, asset_id=asset["id"], description="old", color="#000000"
    )
    updated = api.call("/update/comment", token, id=comment["id"], description="new")
    assert updated["description"] == "new"
    assert updated["color"] == "#000000"


def test_only_the_author_may_change_or_delete_a_comment(api, token, asset):
    comment = api.call("/create/comment", token, asset_id=asset["id"], description="mine")
    viewer = api.token("viewer@example.com", "viewer-api-key")
    theirs = api.call("/create/comment", viewer, asset_id=asset["id"], description="viewer note")
    assert theirs["user_first_name"] == "View"
    api.error("/update/comment", 403, viewer, id=comment["id"], description="hacked")
    api.error("/delete/comment", 403, viewer, id=comment["id"])


def test_deleting_a_reply_clears_has_reply_and_a_parent_takes_its_replies(api, token, asset):
    parent = api.call("/create/comment", token, asset_id=asset["id"], description="p")
    reply = api.call(
        "/create/comment", token, asset_id=asset["id"], description="r",
        is_reply=True, parent_comment_id=parent["id"],
    )  # fmt: skip
    assert api.call("/delete/comment", token, id=reply["id"]) == {"deleted": True}
    [left] = api.call("/get/comments", token, asset_id=asset["id"])
    assert left["has_reply"] is False
    api.call(
        "/create/comment", token, asset_id=asset["id"], description="r2",
        is_reply=True, parent_comment_id=parent["id"],
    )  # fmt: skip
    api.call("/delete/comment", token, id=parent["id"])
    assert api.call("/get/comments", token, asset_id=asset["id"]) == []
    api.error("/delete/comment", 404, token, id=parent["id"])


def test_comment_errors(api, token, asset):
    api.error("/get/comments", 404, token, asset_id=987654)
    api.error("/create/comment", 400, token, asset_id=asset["id"], description="x", color="red")
    error = api.error(
        "/create/comment", 400, token, asset_id=asset["id"], description="x", is_reply=True
    )
    assert "parent_comment_id" in error["message"]
    api.error(
        "/create/comment",
        404,
        token,
        asset_id=asset["id"],
        description="x",
        is_reply=True,
        parent_comment_id=1,
    )
