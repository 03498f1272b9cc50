from watchd.cli.jobs_cmd import render_jobs


def row(job: int, node: str | None) -> dict[str, object]:
    return {
        "job": job, "state": "uploading", "size": 10, "batch": "Roll1", "file": f"/d/{job}.mov",
        "error": None, "note": None, "node": node,
    }  # fmt: skip


def test_jobs_held_by_nodes_show_which_node_works_on_them():
    text = render_jobs([row(1, "bay-1"), row(2, None)])
    header, first, second = text.splitlines()
    assert "NODE" in header
    assert "bay-1" in first and " - " in second


def test_a_single_node_listing_has_no_node_column():
    assert "NODE" not in render_jobs([row(1, None)])
