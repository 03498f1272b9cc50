import uuid

import pytest

from tests.integration.conftest import (
    VIEWER_API_KEY,
    VIEWER_EMAIL,
    folder_id,
    make_client,
    wait_for,
)
from watchd.flowcapture.errors import NotFoundError, PermissionDeniedError
from watchd.flowcapture.upload import upload_file


def test_groups_show_only_the_productions_the_user_may_see(client):
    names = {g.name for g in client.get_groups()}
    assert "Demo Production" in names
    assert "Closed Set" not in names


def test_projects_nest_through_parent_project_id(client):
    folders = {f.name: f for f in client.get_projects()}
    assert folders["Day 01"].parent_project_id == folders["Dailies"].id
    assert folders["Dailies"].parent_project_id in (None, 0)
    demo = next(g for g in client.get_groups() if g.name == "Demo Production")
    assert {f.name for f in client.get_projects(demo.id)} >= {"Dailies", "Day 01"}
    assert all(f.group_id == demo.id for f in client.get_projects(demo.id))


def test_assets_of_a_folder_the_user_cannot_see_are_refused(emulator, client):
    closed = emulator.snapshot()["productions"]
    hidden_ids = [
        f["id"] for p in closed if p["name"] == "Closed Set" for f in p.get("folders", [])
    ]
    assert hidden_ids, "the demo world should have a folder in Closed Set"
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        client.get_assets(hidden_ids[0])


def test_uploaded_asset_appears_with_its_batch_and_takes_metadata(client, tmp_path):
    dailies = folder_id(client, "Dailies")
    source = tmp_path / "A001.mov"
    source.write_bytes(b"x" * 1000)
    asset_uuid = str(uuid.uuid4())
    result = upload_file(client, source, project_id=dailies, uuid=asset_uuid, batch_name="Roll A")
    assert client.get_assets(dailies) == []  # not visible before /complete/upload
    assert client.complete_upload(dailies, [result.upload.key], batch_name="Roll A") is True

    def visible():
        return [a for a in client.get_assets(dailies) if a.uuid == asset_uuid]

    (asset,) = wait_for(visible)
    assert asset.id == result.asset_id
    assert asset.name == "A001.mov"
    assert asset.batch_name == "Roll A"

    assert client.update_asset(asset_uuid, tags=["dailies", "A"], metadata={"scene": "12"})
    (tagged,) = visible()
    assert tagged.to_dict()["tags"] == ["dailies", "A"]
    metadata = tagged.to_dict().get("metadata") or tagged.to_dict()
    assert metadata["scene"] == "12"


def test_a_viewer_cannot_start_an_upload(emulator, client):
    dailies = folder_id(client, "Dailies")
    with make_client(emulator, VIEWER_EMAIL, VIEWER_API_KEY) as viewer:
        assert dailies in {f.id for f in viewer.get_projects()}
        with pytest.raises(PermissionDeniedError):
            viewer.upload_init(dailies, "nope.mov")


def test_an_unknown_folder_is_not_found(client):
    with pytest.raises((NotFoundError, PermissionDeniedError)):
        client.upload_init(987654, "nope.mov")
