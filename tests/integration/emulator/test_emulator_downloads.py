"""Download categories, tasks and ranged GETs of the files."""

from __future__ import annotations

import os
import time

import pytest

TRAILER = b"\n[watermarked by the Flow Capture emulator]\n"


@pytest.fixture
def original():
    return os.urandom(100_000)


@pytest.fixture
def asset(api, token, original):
    return api.uploaded_asset(token, original)


def wait_ready(api, token, task_id, timeout=5.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        [message] = api.call("/get/tasks/messages", token, task_ids=[task_id])
        assert message["task_id"] == task_id
        seen.append(message["message"]["progress"])
        if message["message"]["progress"] == "100%":
            return message["message"]["direct_url"], seen
        assert message["message"]["direct_url"] == ""
        time.sleep(0.05)
    raise AssertionError("task never finished")


def test_categories_list_original_and_proxies_with_sizes(api, token, asset):
    result = api.call("/get/asset/file/categories", token, assets=[asset["id"]])
    assert result["file_category"] == ["ORIGINAL", "1080p", "480p"]
    assert result["file_count"] == {"ORIGINAL": 1, "1080p": 1, "480p": 1}
    assert result["non_watermarked"] is True
    assert result["non_watermarked_file_sizes"] == {
        "ORIGINAL": 100_000,
        "1080p": 25_000,
        "480p": 6_250,
    }
    assert result["watermarked_file_sizes"]["1080p"] == 25_000 + len(TRAILER)
    assert result["watermarked_count"] == {"ORIGINAL": 0, "1080p": 1, "480p": 1}
    assert set(result["sort_order"]) == set(result["group"]) == set(result["file_category"])


def test_a_viewer_may_not_download_without_watermark(api, asset):
    viewer = api.token("viewer@example.com", "viewer-api-key")
    result = api.call("/get/asset/file/categories", viewer, assets=[asset["id"]])
    assert result["non_watermarked"] is False
    result = api.call(
        "/download/assets/direct",
        viewer,
        assets=[asset["id"]],
        file_categories=["480p"],
        non_watermarked=True,
    )
    assert result["successful_processes"] == []
    assert result["errors"][0]["asset_id"] == asset["id"]


def test_original_is_ready_at_once_and_proxies_process(api, token, asset, original):
    result = api.call(
        "/download/assets/direct", token, assets=[asset["id"]],
        file_categories=["ORIGINAL", "1080p", "720p"], non_watermarked=False,
    )  # fmt: skip
    assert [e["asset_id"] for e in result["errors"]] == [asset["id"]]
    assert "720p" in result["errors"][0]["error_message"]
    original_task, proxy_task = result["successful_processes"]
    assert original_task["processing"] is False
    assert original_task["filename"] == "clip.mov"
    assert original_task["path"] == "clip.mov"  # the file path within the download
    assert api.session.get(original_task["url"]).content == original
    assert proxy_task["processing"] is True
    assert proxy_task["url"] == ""
    url, progress = wait_ready(api, token, proxy_task["task_id"])
    assert progress[0] != "100%"
    body = api.session.get(url)
    assert body.status_code == 200
    assert body.content == original[::4] + TRAILER
    assert body.headers["ETag"].startswith('"')


def test_non_watermarked_proxy_and_ranges(api, token, asset, original):
    result = api.call(
        "/download/assets/direct",
        token,
        assets=[asset["uuid"]],
        file_categories=["480p"],
        non_watermarked=True,
    )
    [task] = result["successful_processes"]
    url, _ = wait_ready(api, token, task["task_id"])
    expected = original[::16]
    ranged = api.session.get(url, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206
    assert ranged.content == expected[10:20]
    assert ranged.headers["Content-Range"] == f"bytes 10-19/{len(expected)}"
    tail = api.session.get(url, headers={"Range": "bytes=-5"})
    assert tail.content == expected[-5:]
    head = api.session.head(url)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(expected))
    out_of_range = api.session.get(url, headers={"Range": f"bytes={len(expected)}-"})
    assert out_of_range.status_code == 416


def test_download_urls_are_signed(api, token, asset):
    result = api.call(
        "/download/assets/direct", token, assets=[asset["id"]], file_categories=["ORIGINAL"]
    )
    url = result["successful_processes"][0]["url"]
    assert api.session.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0")).status_code == 403
    assert api.session.get(url.split("?")[0]).status_code == 403


def test_unknown_tasks_and_assets(api, token):
    api.error("/get/tasks/messages", 404, token, task_ids=["123"])
    result = api.call(
        "/download/assets/direct", token, assets=[424242], file_categories=["ORIGINAL"]
    )
    assert result["errors"][0]["asset_id"] == 424242
    api.error("/get/asset/file/categories", 404, token, assets=[424242])


def test_categories_by_playlink_and_a_multi_file_original(api, emu, token):
    asset = api.uploaded_asset(token)
    link = api.session.post(
        emu.api_url + "/_emulator/playlinks", json={"assets": [asset["id"]]}, timeout=10
    ).json()["playlink_id"]
    by_link = api.call("/get/asset/file/categories", token, playlink_id=link)
    assert by_link["file_category"] == ["ORIGINAL", "1080p", "480p"]
    assert api.error("/get/asset/file/categories", 404, token, playlink_id=link + 1)
    emu.set_faults({"original_files": "with_sidecar"})
    started = api.call(
        "/download/assets/direct", token, assets=[asset["id"]], file_categories=["ORIGINAL"]
    )["successful_processes"]
    assert [t["path"] for t in started] == ["clip/clip.mov", "clip/clip.xml"]
    assert all(t["url"] and not t["processing"] for t in started)
