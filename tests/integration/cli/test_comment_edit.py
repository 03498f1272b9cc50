"""`watchd comment edit --no-marker / --reply-to / --top-level`, colour in the listing."""

from __future__ import annotations


def test_edit_removes_a_marker_and_moves_a_comment_under_another(cli, uploaded):
    _, ident, _ = uploaded
    first = cli.json("comment", "add", ident, "Too dark", "--at", "3", "--color", "#ff00ee")
    second = cli.json("comment", "add", ident, "Sound drops")
    code, out, _ = cli("comment", "edit", str(first["id"]), "--no-marker")
    assert code == 0
    assert out.strip() == f"updated [{first['id']}] Demo User #ff00ee: Too dark"

    assert cli("comment", "edit", str(second["id"]), "--reply-to", str(first["id"]))[0] == 0
    code, out, _ = cli("comments", ident)
    assert out.splitlines() == [
        f"[{first['id']}] Demo User #ff00ee: Too dark",
        f"  [{second['id']}] Demo User #ffffff: Sound drops",
    ]
    edited = cli.json("comment", "edit", str(second["id"]), "--top-level")
    assert (edited["is_reply"], edited["parent_id"]) == (False, None)


def test_contradicting_or_empty_edits_are_refused(cli, uploaded):
    comment = cli.json("comment", "add", uploaded[1], "x")
    code, _, err = cli("comment", "edit", str(comment["id"]), "--no-marker", "--at", "2")
    assert code == 1 and "--no-marker" in err
    code, _, err = cli("comment", "edit", str(comment["id"]))
    assert code == 1 and "nothing to change" in err
