"""`watchd upload` without --folder and `watchd assets` without FOLDER use the folder
the API key is tied to (the demo world's camera@example.com: Day 01); a key tied to
none is told to give --folder."""

from __future__ import annotations

import json
import os

from tests.integration.conftest import wait_for

DAY_01 = 1001


def test_upload_without_folder_goes_to_the_keys_folder_and_assets_lists_it(
    cli, emulator, monkeypatch, tmp_path
):
    monkeypatch.setenv("WATCHD_API_KEY", "camera-api-key")
    source = tmp_path / "C001.mov"
    source.write_bytes(os.urandom(200_000))
    state = tmp_path / "state"
    code, out, err = cli(
        "upload", str(source), "--state-dir", str(state), "--json", email="camera@example.com"
    )
    assert code == 0, err
    assert "to the API key's folder (id 1001)" in err
    [row] = json.loads(out)
    assert row["state"] == "done"
    [upload] = emulator.snapshot()["uploads"]
    assert (upload["project_id"], upload["project_id_sent"]) == (DAY_01, True)  # sent explicitly
    [call] = emulator.snapshot()["complete_upload_calls"]
    assert (call["project_id"], call["project_id_sent"]) == (DAY_01, True)
    wait_for(lambda: all(a["visible"] for a in emulator.snapshot()["assets"]))
    code, out, err = cli("assets", "--json", email="camera@example.com")
    assert code == 0, err
    assert [(a["name"], a["project_id"]) for a in json.loads(out)] == [("C001.mov", DAY_01)]


def test_upload_without_folder_for_a_key_tied_to_none_asks_for_folder(cli, tmp_path):
    source = tmp_path / "C002.mov"
    source.write_bytes(b"x" * 100)
    code, _, err = cli("upload", str(source), "--state-dir", str(tmp_path / "state"))
    assert code == 1
    assert err.strip() == (
        "watchd upload: give --folder (an id or 'Production/Folder'): the API key of "
        "demo@example.com is not tied to a folder"
    )
    code, _, err = cli("assets")
    assert code == 1 and err.startswith("watchd assets: give FOLDER (an id or")
