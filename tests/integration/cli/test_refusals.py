"""A result flag answered false is a failure of the command, naming the endpoint."""

from __future__ import annotations


def test_comment_delete_answered_false_fails_with_the_endpoint_named(cli, uploaded, emulator):
    _, ident, _ = uploaded
    comment = cli.json("comment", "add", ident, "keep")
    emulator.set_faults({"rules": [{"endpoint": "/delete/comment", "answer_false": True}]})
    code, out, err = cli("comment", "delete", str(comment["id"]))
    assert code == 1
    assert out == ""
    assert "/delete/comment answered deleted=false" in err
    assert [c["id"] for c in cli.json("comments", ident)] == [comment["id"]]


def test_tag_answered_false_fails(cli, uploaded, emulator):
    emulator.set_faults({"rules": [{"endpoint": "/update/asset", "answer_false": True}]})
    code, _, err = cli("tag", str(uploaded[0]), "scene=12")
    assert code == 1
    assert "/update/asset answered updated=false" in err
