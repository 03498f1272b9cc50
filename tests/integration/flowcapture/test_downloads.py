import os
import uuid

import pytest

from tests.integration.conftest import folder_id, wait_for
from watchd.flowcapture.download import PARTIAL_SUFFIX, DestinationExistsError, download_asset
from watchd.flowcapture.errors import FlowCaptureError
from watchd.flowcapture.parts import MIB
from watchd.flowcapture.upload import upload_file


@pytest.fixture
def asset(client, tmp_path):
    data = os.urandom(3 * MIB + 17)
    source = tmp_path / "proxy_me.mov"
    source.write_bytes(data)
    dailies = folder_id(client, "Dailies")
    result = upload_file(client, source, project_id=dailies, uuid=str(uuid.uuid4()))
    client.complete_upload(dailies, [result.upload.key])
    wait_for(lambda: client.get_assets(dailies))
    return result.asset_id, data


def test_categories_include_the_original_and_proxies(client, asset):
    categories = client.get_file_categories([asset[0]])
    assert "ORIGINAL" in categories.file_category
    assert len(categories.file_category) >= 2


def test_a_proxy_is_processed_then_downloaded(client, asset, tmp_path):
    categories = client.get_file_categories([asset[0]]).file_category
    proxy = next(c for c in categories if c != "ORIGINAL")
    progress_texts = []
    out = tmp_path / "out"
    out.mkdir()
    path = download_asset(
        client, asset[0], proxy, out, on_task_progress=progress_texts.append, poll_seconds=0.1
    )
    assert path.exists()
    assert path.stat().st_size > 0
    assert progress_texts, "the task should report progress while processing"
    assert not list((tmp_path / "out").glob(f"*{PARTIAL_SUFFIX}"))


def test_an_interrupted_download_resumes_where_it_stopped(emulator, client, asset, tmp_path):
    asset_id, data = asset
    out = tmp_path / "out"
    out.mkdir()
    emulator.set_faults({"rules": [{"endpoint": "s3:GET", "reset": True, "count": 1}]})
    seen = []
    path = download_asset(client, asset_id, "ORIGINAL", out, progress=lambda d, t: seen.append(d))
    assert path.read_bytes() == data
    assert emulator.snapshot()["requests"]["s3:GET"] == 2
    assert seen == sorted(seen), "a resumed download must not start again from zero"


def test_a_download_of_an_invisible_asset_reports_the_servers_reason(client, tmp_path):
    with pytest.raises(FlowCaptureError) as caught:
        download_asset(client, 987654321, "ORIGINAL", tmp_path)
    assert "987654321" in str(caught.value)


def test_a_file_already_at_the_destination_is_left_alone_unless_overwrite(
    emulator, client, asset, tmp_path
):
    asset_id, data = asset
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "proxy_me.mov"
    mine.write_bytes(b"the user's own take, not this asset")
    with pytest.raises(DestinationExistsError, match=r"proxy_me\.mov already there: not replaced"):
        download_asset(client, asset_id, "ORIGINAL", out)
    assert mine.read_bytes() == b"the user's own take, not this asset"
    assert emulator.snapshot()["requests"].get("s3:GET", 0) == 0, "nothing fetched"
    assert download_asset(client, asset_id, "ORIGINAL", out, overwrite=True) == mine
    assert mine.read_bytes() == data
