"""The admin state document, secrets, persistence and discard mode."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time

from watchd.emulator import Emulator


def test_the_state_shows_uploads_assets_objects_and_counters(api, emu, token):
    data = os.urandom(6 * api.MiB)
    done = api.upload(token, data, batch_name="B")
    api.ingest(token, api.DAILIES, [done["key"]], "B")
    state = api.session.get(api.base + "/_emulator/state").json()
    assert [u["email"] for u in state["users"]] == [
        "demo@example.com",
        "viewer@example.com",
        "camera@example.com",
    ]
    assert [p["name"] for p in state["productions"]] == ["Demo Production", "Closed Set"]
    [upload] = state["uploads"]
    assert upload["key"] == done["key"]
    assert upload["state"] in ("ingesting", "ingested")
    assert upload["filename"] == "clip.mov"
    [asset] = state["assets"]
    assert asset["etag"] == api.multipart_etag(done["parts"])
    assert asset["batch_name"] == "B"
    assert {"key": done["key"], "size": len(data)}.items() <= state["objects"][0].items()
    assert state["requests"]["/upload/asset/part"] == 2
    assert state["requests"]["s3:PUT"] == 2
    assert state["part_puts"][done["key"]] == {"1": 1, "2": 1}
    assert state["batches"] == [
        {
            "project_id": api.DAILIES,
            "batch_name": "B",
            "keys": [done["key"]],
            "asset_ids": [done["asset_id"]],
        }
    ]


def test_no_secret_reaches_the_state_or_the_logs(api, emu, caplog):
    caplog.set_level(logging.DEBUG, logger="watchd.emulator")
    token = api.token()
    init = api.init(token)
    url = api.part_url(token, init, 1, b"data")
    api.put(url, b"data").raise_for_status()
    api.put(url + "0", b"data")  # a failing, logged request
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    text = api.session.get(api.base + "/_emulator/state").text
    for secret in ("demo-api-key", "viewer-api-key", token, signature):
        assert secret not in text
        assert secret not in caplog.text


def test_a_restart_with_the_same_data_keeps_the_world(tmp_path, api_for):
    with Emulator(tmp_path / "data", faults={"processing_delay_s": 0}) as emu:
        api = api_for(emu)
        token = api.token()
        asset = api.uploaded_asset(token, b"persist me")
        api.call("/create/comment", token, asset_id=asset["id"], description="kept")
    with Emulator(tmp_path / "data", faults={"processing_delay_s": 0}) as emu:
        api = api_for(emu)
        token = api.token()
        [again] = api.call("/get/assets", token, project_id=api.DAILIES)
        assert again["id"] == asset["id"]
        assert [
            c["description"] for c in api.call("/get/comments", token, asset_id=asset["id"])
        ] == ["kept"]
        [obj] = emu.snapshot()["objects"]
        assert api.s3_get(obj["bucket"], obj["key"]).content == b"persist me"
        follow_up = api.uploaded_asset(token, b"next")
        assert follow_up["id"] > asset["id"]
    assert json.loads((tmp_path / "data" / "state.json").read_text())["version"] == 1


def test_discard_mode_checks_digests_but_keeps_no_bytes(tmp_path, api_for):
    with Emulator(tmp_path / "data", discard=True) as emu:
        api = api_for(emu)
        token = api.token()
        done = api.upload(token, os.urandom(api.MiB))
        [obj] = emu.snapshot()["objects"]
        assert obj["size"] == api.MiB
        assert obj["stored"] is False
        resp = api.s3_get("flowcapture-ingest", done["key"])
        assert resp.status_code == 404
        assert "discard" in resp.text
        init = api.init(token)
        bad = api.put(api.part_url(token, init, 1, b"a"), b"b", md5=api.md5_b64(b"a"))
        assert bad.status_code == 400
    assert not any(p.is_file() for p in (tmp_path / "data" / "objects").rglob("*"))
    assert not any(p.is_file() for p in (tmp_path / "data" / "parts").rglob("*"))


def test_with_autosave_a_killed_emulator_keeps_what_it_had_seconds_before(tmp_path, api_for):
    data = tmp_path / "data"
    emu = Emulator(data, faults={"processing_delay_s": 0}, autosave_seconds=0.1)
    emu.start()
    try:
        api = api_for(emu)
        asset = api.uploaded_asset(api.token(), b"kept through a kill")
        saved = data / "state.json"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            saved.exists() and f'"id": {asset["id"]}' in saved.read_text()
        ):
            time.sleep(0.05)
        copy = tmp_path / "copy"  # the data as a kill -9 now would leave it
        shutil.copytree(data, copy)
    finally:
        emu.stop()
    with Emulator(copy, faults={"processing_delay_s": 0}) as again:
        api = api_for(again)
        [listed] = api.call("/get/assets", api.token(), project_id=api.DAILIES)
        assert listed["id"] == asset["id"]
