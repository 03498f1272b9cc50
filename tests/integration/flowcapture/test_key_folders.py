"""A key tied to a folder (an immediates connection): the client keeps the folder
authentication names, and can upload with project_id left out; a key tied to
none is told so by the service (400 naming project_id)."""

from __future__ import annotations

import os

import pytest

from tests.integration.conftest import make_client, wait_for
from watchd.flowcapture.errors import BadRequestError
from watchd.flowcapture.upload import upload_file

CAMERA_EMAIL, CAMERA_KEY = "camera@example.com", "camera-api-key"  # demo world: tied to Day 01
DAY_01 = 1001


def test_authentication_keeps_the_folder_of_a_tied_key_and_none_for_another(emulator, client):
    with make_client(emulator, CAMERA_EMAIL, CAMERA_KEY) as camera:
        session = camera.authenticate()
        assert session.project_id == DAY_01
        assert camera.session is session
        assert "token" not in repr(session) and session.token not in repr(session)
    assert client.key_folder() is None
    assert client.session is not None and client.session.project_id is None


def test_key_folder_authenticates_when_nothing_was_asked_yet(emulator):
    with make_client(emulator, CAMERA_EMAIL, CAMERA_KEY) as camera:
        assert camera.session is None
        assert camera.key_folder() == DAY_01
        assert emulator.snapshot()["requests"].get("/authenticate/api") == 1


def test_a_tied_key_uploads_with_project_id_left_out_into_its_folder(emulator, tmp_path):
    data = os.urandom(300_000)
    source = tmp_path / "C001.mov"
    source.write_bytes(data)
    with make_client(emulator, CAMERA_EMAIL, CAMERA_KEY) as camera:
        result = upload_file(camera, source, project_id=None, batch_name="Cart")
        assert camera.complete_upload(None, [result.upload.key], batch_name="Cart") is True
        assets = wait_for(lambda: camera.get_assets(DAY_01))
    assert [(a.id, a.name, a.project_id, a.batch_name) for a in assets] == [
        (result.asset_id, "C001.mov", DAY_01, "Cart")
    ]
    state = emulator.snapshot()
    assert [u["project_id_sent"] for u in state["uploads"]] == [False]
    assert [c["project_id_sent"] for c in state["complete_upload_calls"]] == [False]


def test_a_key_tied_to_no_folder_is_refused_when_it_leaves_project_id_out(client, tmp_path):
    source = tmp_path / "C002.mov"
    source.write_bytes(b"x" * 1000)
    with pytest.raises(BadRequestError, match=r"project_id.*demo@example\.com"):
        upload_file(client, source, project_id=None)
