"""A drop folder naming no project, with the real daemon: its files land in the
folder the API key is tied to (the demo world's camera@example.com: Day 01), and
with a key tied to none the folder waits, unhealthy, saying what to set."""

from __future__ import annotations

import json
import sqlite3

from tests.e2e.harness import MIB, Site, wait_until, write_file

DAY_01 = 1001


def test_files_of_a_folder_without_project_land_in_the_keys_folder(tmp_path, emulator):
    site = Site(tmp_path, emulator, email="camera@example.com", api_key="camera-api-key")
    try:
        drop = site.add_folder("cart", project=None)
        site.start()
        data = write_file(drop / "Roll1" / "C001.mov", 6 * MIB)
        write_file(drop / "Roll1" / "C002.mov", 1000)
        wait_until(lambda: site.all_done(2), 60, "two jobs done")
        wait_until(lambda: len(site.visible_assets()) == 2, 10, "two assets processed")
    finally:
        site.stop()
    assets = {a["name"]: a for a in site.visible_assets()}
    assert {(a["project_id"], a["batch_name"]) for a in assets.values()} == {(DAY_01, "Roll1")}
    assert assets["C001.mov"]["size"] == len(data)
    assert {j["project_id"] for j in site.jobs()} == {DAY_01}
    with sqlite3.connect(site.state / "watchd.db") as conn:
        assert conn.execute("SELECT DISTINCT project_id FROM batches").fetchall() == [(DAY_01,)]
    state = site.snapshot()  # the daemon names the key's folder explicitly (docs/api-notes.md)
    assert {u["project_id_sent"] for u in state["uploads"]} == {True}
    assert [(c["project_id"], c["project_id_sent"]) for c in state["complete_upload_calls"]] == [
        (DAY_01, True)
    ]
    assert 'folder=cart: project "the API key\'s folder" is id 1001' in site.log()


def test_a_folder_without_project_waits_when_the_key_is_tied_to_none(site):
    drop = site.add_folder("cart", project=None)
    site.start()
    write_file(drop / "C003.mov", 1000)
    status_file = site.state / "status.json"

    def unresolved():
        if not status_file.exists():
            return None
        folders = json.loads(status_file.read_text()).get("folders", [])
        return next((f for f in folders if f["health"] == "project-unresolved"), None)

    folder = wait_until(unresolved, 20, "the folder reported project-unresolved")
    assert "the API key of demo@example.com is not tied to a folder" in folder["message"]
    assert site.jobs() == []
    assert site.snapshot()["uploads"] == []
    assert site.stop() == 0
