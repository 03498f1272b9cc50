"""SIGKILL the daemon at each step boundary; a restart finishes every file exactly once."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.harness import MIB, multipart_etag, wait_until, write_file
from tests.integration.custody.conftest import ascmhl, make_card

BOUNDARIES = [
    "upload:after-init",
    "upload:after-part=2",
    "upload:after-complete",
    "batch:before-complete-upload",
    "batch:after-complete-upload",
    "finish:after-tag",
    "move:after-link",
]


@pytest.mark.parametrize("failpoint", BOUNDARIES)
def test_a_kill_at_each_step_boundary_loses_and_duplicates_nothing(site, tmp_path, failpoint):
    archive = tmp_path / "archive"
    drop = site.add_folder(after_upload={"move_to": str(archive)}, metadata={"tags": ["dailies"]})
    site.transfer["parallel_parts"] = 1  # no part in flight at the kill
    data = write_file(drop / "Roll1" / "A001.mov", 12 * MIB + 5)

    site.start(failpoints=failpoint)
    assert site.wait_exit(60) == -signal.SIGKILL, site.log()[-3000:]
    if failpoint != "move:after-link":
        assert (drop / "Roll1" / "A001.mov").exists(), "the source must stay until done"
        assert not archive.exists() or not any(archive.rglob("*.mov"))

    site.start()
    wait_until(lambda: site.all_done(1), 60, "the file done after the restart")

    state = site.snapshot()
    visible = [a for a in state["assets"] if a["visible"]]
    assert len(visible) == 1, visible
    assert visible[0]["etag"] == multipart_etag(data)
    assert visible[0]["tags"] == ["dailies"]
    (job,) = site.jobs()
    assert state["part_puts"][job["key"]] == {"1": 1, "2": 1, "3": 1}, "no part sent twice"
    archived = sorted(p.relative_to(archive).as_posix() for p in archive.rglob("*") if p.is_file())
    assert archived == ["Roll1/A001.mov"]
    assert (archive / "Roll1" / "A001.mov").read_bytes() == data
    assert not (drop / "Roll1" / "A001.mov").exists()
    assert all(set(call["keys"]) == {job["key"]} for call in state["complete_upload_calls"])


def test_a_kill_before_the_files_of_a_closed_batch_are_finished_together(site):
    """A folder with nothing to tag: its closed batch's files are done in one commit right
    after the close; killed in between, the restart finishes them one by one."""
    drop = site.add_folder(after_upload="keep")
    data = [write_file(drop / "Roll1" / f"A00{n}.mov", MIB + n) for n in range(3)]
    site.start(failpoints="batch:after-close")
    assert site.wait_exit(60) == -signal.SIGKILL, site.log()[-3000:]
    assert sorted(job["state"] for job in site.jobs()) == ["ingesting"] * 3

    site.start()
    wait_until(lambda: site.all_done(3), 60, "the files done after the restart")
    wait_until(lambda: len(site.visible_assets()) == 3, 30, "the assets processed")
    state = site.snapshot()
    assert len(state["assets"]) == 3 and len(state["complete_upload_calls"]) == 1
    assert [(drop / "Roll1" / f"A00{n}.mov").read_bytes() for n in range(3)] == data


@pytest.mark.parametrize("failpoint", ["upload:after-complete", "batch:after-complete-upload"])
def test_a_kill_after_complete_lands_once_with_a_service_that_ignores_our_uuid(site, failpoint):
    """Without the uuid, the asset of a lost complete is found by its name in its batch."""
    site.emulator.set_faults({"uuid_field": "ignored"})
    drop = site.add_folder(after_upload="delete", metadata={"tags": ["dailies"]})
    data = write_file(drop / "Roll1" / "A001.mov", 12 * MIB + 5)
    site.start(failpoints=failpoint)
    assert site.wait_exit(60) == -signal.SIGKILL, site.log()[-3000:]
    assert (drop / "Roll1" / "A001.mov").exists()

    site.start()
    wait_until(lambda: site.all_done(1), 60, "the file done after the restart")
    visible = [a for a in site.snapshot()["assets"] if a["visible"]]
    assert len(visible) == 1, visible
    assert visible[0]["etag"] == multipart_etag(data)
    assert visible[0]["tags"] == ["dailies"]
    (job,) = site.jobs()
    assert job["asset_id"] == visible[0]["id"]
    assert visible[0]["uuid"] != job["uuid"]
    assert not (drop / "Roll1" / "A001.mov").exists()


def test_a_kill_between_the_receipt_and_its_record_leaves_one_receipt(site):
    """Killed after the receipt reached the card's history but before it was recorded as
    written: the restart finds that generation and records it, instead of adding another.
    (A standalone receipt, receipt: state_dir, goes through the same write_generation.)"""
    drop = site.add_folder(after_upload="keep", verify="mhl", receipt="history")
    card = make_card(drop / "A001", {"CLIPS/C001.mov": b"one " * 40_000, "C001.xml": b"<x/>"})
    site.start(failpoints="receipt:before-commit")
    assert site.wait_exit(90) == -signal.SIGKILL, site.log()[-3000:]

    site.start()
    wait_until(
        lambda: "receipt written:" in site.log(), 60, "the receipt recorded after the restart"
    )
    site.stop()
    generations = sorted(p.name for p in (card / "ascmhl").glob("*.mhl"))
    ours = [g for g in generations if b">watchd</tool>" in (card / "ascmhl" / g).read_bytes()]
    assert len(generations) == 2 and len(ours) == 1, generations
    chain = (card / "ascmhl" / "ascmhl_chain.xml").read_text()
    assert all(g in chain for g in generations)
    assert "Generation 2" in ascmhl("info", "-v", card).stdout  # the reference tool reads it
    assert len(site.visible_assets()) == 2
