"""/complete/upload, processing delay, batches and asset metadata."""

from __future__ import annotations

import time
import uuid

import pytest

from watchd.emulator import Emulator, load_world

TWO_UPLOADERS = """
users:
  - {email: a@example.com, api_key: key-a, first_name: A, last_name: One}
  - {email: b@example.com, api_key: key-b, first_name: B, last_name: Two}
productions:
  - name: Show
    folders: [{name: Dailies}]
permissions:
  a@example.com: [{production: Show, access: upload}]
  b@example.com: [{production: Show, access: upload}]
"""


def test_an_asset_appears_only_after_complete_upload_and_processing(api, token):
    asset_uuid = str(uuid.uuid4())
    done = api.upload(token, b"hello world", batch_name="Roll A001", uuid=asset_uuid)
    assert api.call("/get/assets", token, project_id=api.DAILIES) == []
    api.ingest(token, api.DAILIES, [done["key"]], "Roll A001")
    assert api.call("/get/assets", token, project_id=api.DAILIES) == []  # still processing
    time.sleep(0.4)
    [asset] = api.call("/get/assets", token, project_id=api.DAILIES)
    assert asset["id"] == done["asset_id"]
    assert asset["uuid"] == asset_uuid
    assert asset["name"] == "clip.mov"
    assert asset["batch_name"] == "Roll A001"
    assert asset["size"] == 11
    assert asset["project_id"] == api.DAILIES
    [call] = api.emu.snapshot()["complete_upload_calls"]
    assert call["keys"] == [done["key"]]
    assert call["batch_name"] == "Roll A001"
    assert call["project_id"] == api.DAILIES


def test_without_a_batch_name_assets_go_to_the_untitled_batch(api, token):
    asset = api.uploaded_asset(token)
    assert asset["batch_name"] == "Untitled Batch"


def test_complete_upload_checks_keys_project_and_batch(api, token):
    done = api.upload(token, b"abc", batch_name="B1")
    error = api.error(
        "/complete/upload", 400, token, project_id=api.DAILIES, batch_name="B1", keys=["nope"]
    )
    assert "nope" in error["message"]
    api.error(
        "/complete/upload", 400, token, project_id=api.DAILIES, batch_name="B2", keys=[done["key"]]
    )
    api.error(
        "/complete/upload", 400, token, project_id=api.DAY_01, batch_name="B1", keys=[done["key"]]
    )
    open_upload = api.init(token)
    error = api.error(
        "/complete/upload",
        400,
        token,
        project_id=api.DAILIES,
        batch_name="B1",
        keys=[open_upload["key"]],
    )
    assert "not been completed" in error["message"]
    assert api.emu.snapshot()["complete_upload_calls"] == []


def test_keys_of_another_user_are_refused(tmp_path, api_for):
    world_file = tmp_path / "world.yaml"
    world_file.write_text(TWO_UPLOADERS)
    with Emulator(
        tmp_path / "data", load_world(world_file), faults={"processing_delay_s": 0}
    ) as emu:
        api = api_for(emu)
        a, b = api.token("a@example.com", "key-a"), api.token("b@example.com", "key-b")
        done = api.upload(a, b"abc", project_id=1000)
        api.error("/complete/upload", 403, b, project_id=1000, keys=[done["key"]])
        api.ingest(a, 1000, [done["key"]])
        assert len(api.wait_assets(b, 1000, 1)) == 1


def test_update_asset_sets_tags_and_metadata(api, token):
    asset = api.uploaded_asset(token)
    result = api.call(
        "/update/asset", token, id=asset["uuid"], tags=["dailies", "A001"], scene="12", take=3
    )
    assert result == {"updated": True}
    [updated] = api.call("/get/assets", token, project_id=api.DAILIES)
    assert updated["tags"] == ["dailies", "A001"]
    assert updated["metadata"] == {"scene": "12", "take": 3}
    api.call("/update/asset", token, id=asset["id"], take=4)
    [again] = api.call("/get/assets", token, project_id=api.DAILIES)
    assert again["metadata"] == {"scene": "12", "take": 4}
    assert again["tags"] == ["dailies", "A001"]


def test_update_asset_needs_upload_rights_and_a_known_asset(api, token):
    asset = api.uploaded_asset(token)
    viewer = api.token("viewer@example.com", "viewer-api-key")
    api.error("/update/asset", 403, viewer, id=asset["id"], tags=["x"])
    api.error("/update/asset", 404, token, id=999999, tags=["x"])
    assert "tags" in api.error("/update/asset", 400, token, id=asset["id"], tags="x")["message"]


def test_a_uuid_cannot_be_reused_once_an_asset_has_it(api, token):
    asset = api.uploaded_asset(token)
    api.error(
        "/upload/asset/init",
        409,
        token,
        project_id=api.DAILIES,
        filename="b.mov",
        uuid=asset["uuid"],
    )


@pytest.mark.parametrize("delay", [0.0])
def test_zero_processing_delay_makes_assets_visible_at_once(api, emu, token, delay):
    emu.set_faults({"processing_delay_s": delay})
    done = api.upload(token, b"abc")
    api.ingest(token, api.DAILIES, [done["key"]])
    assert len(api.call("/get/assets", token, project_id=api.DAILIES)) == 1
