"""Every file a category has is downloaded, where the task's path puts it."""

from __future__ import annotations

import pytest

from tests.integration.flowcapture.ingested import ingest_one
from watchd.flowcapture.download import download_files, local_path
from watchd.flowcapture.errors import NotFoundError
from watchd.flowcapture.models import DownloadTask


@pytest.mark.parametrize("mode", ["one", "with_sidecar"])
def test_the_original_downloads_every_file_at_its_path(emulator, client, tmp_path, mode):
    emulator.set_faults({"original_files": mode})
    asset = ingest_one(client, tmp_path, name="A001_C003.mov")
    out = tmp_path / "out"
    paths = download_files(client, asset.asset_id, "ORIGINAL", out)
    if mode == "one":
        assert paths == [out / "A001_C003.mov"]
    else:
        assert paths == [out / "A001_C003" / "A001_C003.mov", out / "A001_C003" / "A001_C003.xml"]
        assert b'name="A001_C003.mov"' in paths[1].read_bytes()
    assert paths[0].read_bytes() == asset.data
    assert not list(out.rglob("*.part"))


def test_an_unknown_category_is_not_found(client, tmp_path):
    asset = ingest_one(client, tmp_path)
    with pytest.raises(NotFoundError, match="720p"):
        download_files(client, asset.asset_id, "720p", tmp_path)


def test_categories_of_a_playlink(emulator, client, tmp_path):
    asset = ingest_one(client, tmp_path)
    link = emulator.add_playlink([asset.asset_id])
    by_link = client.get_file_categories(playlink_id=link)
    by_asset = client.get_file_categories([asset.asset_id])
    assert by_link.file_category == by_asset.file_category
    assert by_link.non_watermarked_file_sizes == by_asset.non_watermarked_file_sizes
    with pytest.raises(NotFoundError):
        client.get_file_categories(playlink_id=987)


@pytest.mark.parametrize(
    ("path", "filename", "expected"),
    [
        ("A001/A001.mov", "A001.mov", "A001/A001.mov"),
        ("Show/Dailies", "A001.mov", "Show/Dailies/A001.mov"),
        ("/etc/../passwd", "x.mov", "etc/passwd/x.mov"),
        (None, "x.mov", "x.mov"),
        ("", "", "asset-1-ORIGINAL"),
        ("a\\b\\c.mov", "c.mov", "a/b/c.mov"),
    ],
)
def test_the_local_path_stays_below_the_destination(path, filename, expected):
    task = DownloadTask(asset_id=1, filename=filename, path=path)
    assert local_path(task, "asset-1-ORIGINAL").as_posix() == expected
