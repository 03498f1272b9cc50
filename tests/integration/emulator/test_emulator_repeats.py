"""Repeated requests, as a client sends them after a lost reply: racing
completes, a second init with the same uuid (``init_same_uuid``) and a
repeated ``/complete/upload``."""

from __future__ import annotations

import threading
import uuid

import pytest

from watchd.emulator import Emulator


def open_uploads(emu):
    return [u for u in emu.snapshot()["uploads"] if u["state"] == "open"]


def test_of_two_racing_completes_one_wins_and_the_other_gets_no_such_upload(
    api, api_for, emu, token
):
    init = api.init(token)
    etag = api.put_part(token, init, 1, b"raced")
    clients = [api_for(emu) for _ in range(2)]
    start = threading.Barrier(2)
    answers: list[tuple[int, str]] = []

    def complete(client):
        start.wait()
        resp = client.complete(token, init, [etag])
        code = resp.json().get("error", {}).get("code", "")
        answers.append((resp.status_code, code))

    threads = [threading.Thread(target=complete, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers) == [(200, ""), (404, "NoSuchUpload")]
    assert len(emu.snapshot()["assets"]) == 1


def test_a_second_init_with_the_same_uuid_makes_a_separate_upload_by_default(api, emu, token):
    asset_uuid = str(uuid.uuid4())
    first = api.init(token, uuid=asset_uuid)
    second = api.init(token, uuid=asset_uuid)
    assert first["upload_id"] != second["upload_id"]
    assert first["key"] != second["key"]
    assert [u["upload_id"] for u in open_uploads(emu)] == [first["upload_id"], second["upload_id"]]
    etag = api.put_part(token, second, 1, b"second")
    assert api.complete(token, second, [etag]).status_code == 200
    [orphan] = open_uploads(emu)
    assert orphan["upload_id"] == first["upload_id"]


def test_init_same_uuid_resume_answers_the_open_upload_again(api, emu, token):
    emu.set_faults({"init_same_uuid": "resume"})
    asset_uuid = str(uuid.uuid4())
    first = api.init(token, uuid=asset_uuid)
    assert api.init(token, uuid=asset_uuid) == first
    assert len(emu.snapshot()["uploads"]) == 1
    other_file = api.error(
        "/upload/asset/init", 409, token, project_id=api.DAILIES, filename="b.mov", uuid=asset_uuid
    )
    assert other_file["code"] == "DuplicateUuid"
    etag = api.put_part(token, first, 1, b"resumed")
    assert api.complete(token, first, [etag]).status_code == 200


def test_init_same_uuid_refuse_answers_409_while_the_upload_is_open(tmp_path, api_for):
    with Emulator(tmp_path / "data", faults={"init_same_uuid": "refuse"}) as emu:
        api = api_for(emu)
        token = api.token()
        asset_uuid = str(uuid.uuid4())
        first = api.init(token, uuid=asset_uuid)
        error = api.error(
            "/upload/asset/init", 409, token, project_id=api.DAILIES, filename="clip.mov",
            uuid=asset_uuid,
        )  # fmt: skip
        assert error["code"] == "DuplicateUuid"
        assert "already open" in error["message"]
        assert len(emu.snapshot()["uploads"]) == 1
        api.call("/upload/asset/abort", token, upload_id=first["upload_id"], key=first["key"])
        assert api.init(token, uuid=asset_uuid)["upload_id"] != first["upload_id"]


@pytest.mark.parametrize("mode", ["new", "resume", "refuse"])
def test_a_uuid_that_belongs_to_an_asset_is_409_in_every_mode(api, emu, token, mode):
    asset_uuid = str(uuid.uuid4())
    api.upload(token, b"abc", uuid=asset_uuid)
    emu.set_faults({"init_same_uuid": mode})
    error = api.error(
        "/upload/asset/init", 409, token, project_id=api.DAILIES, filename="clip.mov",
        uuid=asset_uuid,
    )  # fmt: skip
    assert error["code"] == "DuplicateUuid"
    assert "belongs to asset" in error["message"]


def test_a_repeated_complete_upload_is_accepted_and_recorded_as_a_repeat(api, emu, token):
    one = api.upload(token, b"one", filename="one.mov")
    two = api.upload(token, b"two", filename="two.mov")
    api.ingest(token, api.DAILIES, [one["key"]])
    api.ingest(token, api.DAILIES, [one["key"]])
    api.ingest(token, api.DAILIES, [one["key"], two["key"]])
    calls = emu.snapshot()["complete_upload_calls"]
    assert [(c["repeat"], c["repeated_keys"]) for c in calls] == [
        (False, []),
        (True, [one["key"]]),
        (False, [one["key"]]),
    ]
    assert [c["keys"] for c in calls] == [[one["key"]], [one["key"]], [one["key"], two["key"]]]
