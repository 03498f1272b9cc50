"""Keys tied to a folder (immediates connections): /authenticate/api answers the
folder's project_id, and init, complete and /complete/upload may leave it out.
A key tied to no folder must give it: a 400 naming project_id and the key."""

from __future__ import annotations

import os

CAMERA = {"email": "camera@example.com", "api_key": "camera-api-key"}  # tied to Day 01


def _upload_without_project(api, token, data, batch="Cam"):
    init = api.call("/upload/asset/init", token, filename="clip.mov")
    etag = api.put_part(token, init, 1, data)
    resp = api.post(
        "/upload/asset/complete",
        token,
        upload_id=init["upload_id"],
        key=init["key"],
        etags=[etag],
        filename="clip.mov",
        batch_name=batch,
    )
    assert resp.status_code == 200, resp.text
    return init, resp.json()["asset_id"]


def test_authentication_answers_the_folder_of_a_key_tied_to_one_and_none_otherwise(api):
    assert api.call("/authenticate/api", **CAMERA)["project_id"] == api.DAY_01
    plain = api.call("/authenticate/api", email="demo@example.com", api_key="demo-api-key")
    assert "project_id" not in plain


def test_a_tied_key_uploads_without_project_id_into_its_folder(api, emu):
    token = api.token(**CAMERA)
    data = os.urandom(1000)
    init, asset_id = _upload_without_project(api, token, data)
    assert api.call("/complete/upload", token, batch_name="Cam", keys=[init["key"]]) == {"ok": True}
    [asset] = api.wait_assets(token, api.DAY_01, 1)
    assert (asset["id"], asset["project_id"], asset["batch_name"]) == (asset_id, api.DAY_01, "Cam")
    assert api.call("/get/assets", api.token(), project_id=api.DAILIES) == []
    state = api.session.get(api.base + "/_emulator/state").json()
    assert [u["project_id_sent"] for u in state["uploads"]] == [False]
    [call] = state["complete_upload_calls"]
    assert (call["project_id"], call["project_id_sent"]) == (api.DAY_01, False)


def test_a_tied_key_may_still_name_its_folder_but_not_another_on_complete(api):
    token = api.token(**CAMERA)
    done = api.upload(token, b"x" * 100, project_id=api.DAY_01)
    api.ingest(token, api.DAY_01, [done["key"]])
    init = api.call("/upload/asset/init", token, filename="clip.mov")
    etag = api.put_part(token, init, 1, b"y" * 100)
    error = api.complete(token, init, [etag], project_id=api.DAILIES)
    assert error.status_code == 400
    assert "project_id" in error.json()["error"]["message"]


def test_a_key_tied_to_no_folder_gets_a_400_naming_project_id_and_the_key(api):
    token = api.token()
    error = api.error("/upload/asset/init", 400, token, filename="clip.mov")
    assert "'project_id' is required" in error["message"]
    assert "demo@example.com" in error["message"]
    init = api.init(token)
    etag = api.put_part(token, init, 1, b"z" * 10)
    resp = api.complete(token, init, [etag], project_id=None)
    assert resp.status_code == 400 and "project_id" in resp.json()["error"]["message"]
    done = api.upload(token, b"z" * 10)
    error = api.error("/complete/upload", 400, token, keys=[done["key"]])
    assert "'project_id' is required" in error["message"]
