from watchd.cli.jobs_cmd import _cancel_text, render_jobs
from watchd.store.operator_actions import Cancelled, CancelOutcome


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


def test_a_cancel_that_cancelled_nothing_says_only_why():
    done = Cancelled(1, CancelOutcome.FINISHED, state="done")
    assert _cancel_text([done]) == "job 1: already done, nothing to cancel"
    both = _cancel_text([Cancelled(2, CancelOutcome.CANCELLED), done])
    assert both.splitlines()[0] == "cancelled 1 job(s): 2"


def test_a_batch_name_too_long_for_its_column_ends_in_an_ellipsis():
    long = {**row(1, None), "batch": "polled 2026-12-05 dailies"}
    (_, line) = render_jobs([long, row(2, None)]).splitlines()[:2]
    assert "polled 2026-12-…" in line and render_jobs([row(1, None)]).count("Roll1 ") == 1
