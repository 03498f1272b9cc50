"""Files dropped into a folder become assets: right folder and batch, byte-identical, tagged."""

from __future__ import annotations

import time
from functools import partial

from tests.e2e.harness import MIB, multipart_etag, wait_until, watchd, write_file


def test_dropped_files_land_once_in_their_batches_tagged_and_byte_identical(site):
    drop = site.add_folder(
        metadata={"tags": ["dailies"], "from_path": r"(?P<scene>\d+)_(?P<take>\d+)"},
    )
    site.start()
    files = {
        "Roll1/012_003.mov": write_file(drop / "Roll1/012_003.mov", 7 * MIB + 11),
        "Roll1/012_004.mov": write_file(drop / "Roll1/012_004.mov", 1 * MIB),
        "Roll2/013_001.mov": write_file(drop / "Roll2/013_001.mov", 12 * MIB),
    }
    (drop / ".DS_Store").write_bytes(b"junk")
    (drop / "Roll1" / "render.tmp").write_bytes(b"junk")
    wait_until(lambda: site.all_done(3), 60, "three jobs done")
    wait_until(lambda: len(site.visible_assets()) == 3, 10, "three assets processed")

    state = site.snapshot()
    folder_id = next(
        f["id"]
        for p in state["productions"]
        for f in p["folders"]
        if f["path"] == "Demo Production/Dailies"
    )
    assets = {a["name"]: a for a in site.visible_assets()}
    assert set(assets) == {"012_003.mov", "012_004.mov", "013_001.mov"}
    for relpath, data in files.items():
        asset = assets[relpath.split("/")[1]]
        assert asset["project_id"] == folder_id
        assert asset["batch_name"] == relpath.split("/")[0]
        assert asset["size"] == len(data)
        assert asset["etag"] == multipart_etag(data)
        assert asset["tags"] == ["dailies"]
        scene, take = relpath.split("/")[1].removesuffix(".mov").split("_")
        assert asset["metadata"]["scene"] == scene and asset["metadata"]["take"] == take

    calls = sorted(state["complete_upload_calls"], key=lambda c: c["batch_name"])
    assert [c["batch_name"] for c in calls] == ["Roll1", "Roll2"]
    keys = {j["relpath"]: j["key"] for j in site.jobs()}
    assert sorted(calls[0]["keys"]) == sorted(
        [keys["Roll1/012_003.mov"], keys["Roll1/012_004.mov"]]
    )
    assert calls[1]["keys"] == [keys["Roll2/013_001.mov"]]
    assert all(count == 1 for puts in state["part_puts"].values() for count in puts.values())
    assert (drop / "Roll1/012_003.mov").exists(), "after_upload: keep leaves the source"


def test_done_files_are_not_uploaded_again_after_a_restart(site):
    drop = site.add_folder()
    site.start()
    write_file(drop / "a.mov", 2 * MIB)
    wait_until(lambda: site.all_done(1), 40, "the file done")
    assert site.stop() == 0
    site.start()
    wait_until(lambda: "watchd 0.1.0 running" in site.log().split("stopped")[-1], 20, "restart")
    write_file(drop / "b.mov", 1 * MIB)
    wait_until(lambda: site.all_done(2), 40, "the second file done")
    wait_until(lambda: len(site.visible_assets()) == 2, 10, "both assets processed")
    assert site.snapshot()["requests"]["/upload/asset/init"] == 2
    assert len(site.visible_assets()) == 2


def test_move_to_archives_with_the_relative_path_after_the_asset_is_done(site, tmp_path):
    archive = tmp_path / "archive"
    drop = site.add_folder(after_upload={"move_to": str(archive)})
    site.start()
    data = write_file(drop / "Day 1" / "clip.mov", 3 * MIB)
    wait_until(lambda: site.all_done(1), 40, "the file done")
    assert (archive / "Day 1" / "clip.mov").read_bytes() == data
    assert not (drop / "Day 1" / "clip.mov").exists()
    listing = watchd("jobs", "--config", str(site.config_path))
    assert f"moved to {archive / 'Day 1' / 'clip.mov'}" in listing.stdout  # where it is now


def test_a_file_written_in_pieces_for_20_seconds_is_uploaded_once_complete(site):
    drop = site.add_folder(settle="3s")
    site.start()
    target = drop / "slow.mov"
    written = bytearray()
    for _ in range(20):  # a slow copy: a piece a second, the file closed in between
        piece = bytes([len(written) % 251]) * (256 * 1024)
        with target.open("ab") as out:
            out.write(piece)
        written += piece
        assert site.states() == [], "nothing may be queued while the file still grows"
        time.sleep(1.0)
    wait_until(lambda: site.all_done(1), 60, "the slow file done")
    wait_until(site.visible_assets, 10, "the asset processed")
    (asset,) = site.visible_assets()
    assert asset["size"] == len(written)
    assert asset["etag"] == multipart_etag(bytes(written))
    assert site.snapshot()["requests"]["/upload/asset/init"] == 1


def test_symlinks_inside_upload_once_and_links_outside_are_skipped(site, tmp_path):
    outside = tmp_path / "elsewhere.mov"
    outside.write_bytes(b"o" * 1000)
    drop = site.add_folder()
    write_file(drop / "real.mov", 1 * MIB)
    (drop / "alias.mov").symlink_to(drop / "real.mov")
    (drop / "outside.mov").symlink_to(outside)
    site.start()
    wait_until(lambda: site.all_done(1), 40, "the real file done")
    wait_until(site.visible_assets, 10, "the asset processed")
    wait_until(lambda: "symlink points outside" in site.log(), 10, "the skip logged")
    assert [a["name"] for a in site.visible_assets()] == ["real.mov"]
    assert site.snapshot()["requests"]["/upload/asset/init"] == 1


def test_a_batch_waits_for_a_file_of_it_still_being_copied(site):
    # A card copied clip by clip: the next clip may take longer to copy than the batch's
    # idle time. Its batch stays open for it instead of closing and leaving the clip to
    # a second batch of the same name.
    drop = site.add_folder(settle="1s", batch={"name": "{subdir}", "idle": "1s"})
    site.start()
    wait_until(lambda: "running" in site.log(), 20, "the daemon running")
    card = drop / "Day02"
    card.mkdir()
    write_file(card / "A001.mov", MIB)
    slow = card / "A002.mov"
    written = bytearray()
    for _ in range(10):  # five seconds of copying the next clip: five times the idle time
        piece = bytes([len(written) % 251]) * (128 * 1024)
        with slow.open("ab") as out:
            out.write(piece)
        written += piece
        time.sleep(0.5)
    assert "done" not in site.states(), "A001's batch still open for A002"
    wait_until(lambda: site.all_done(2), 60, "both done")
    assert len({j["batch_id"] for j in site.jobs()}) == 1, "one batch for the card"
    assert site.snapshot()["requests"]["/complete/upload"] == 1


def test_a_file_copied_with_pauses_longer_than_settle_lands_once_whole(site):
    # A copy that stalls for longer than the settle time: each stall looks complete, and
    # that much is uploaded. The batch stays open while the file grows; at its close the
    # versions the file outgrew are left out, and only the whole file goes in.
    drop = site.add_folder(settle="1s", batch={"name": "{subdir}", "idle": "2s"})
    site.start()
    wait_until(lambda: "running" in site.log(), 20, "the daemon running")
    target = drop / "Day22" / "V022.mov"
    target.parent.mkdir()
    written = bytearray()
    for n in range(4):
        piece = bytes([n]) * MIB
        with target.open("ab") as out:
            out.write(piece)
        written += piece
        if n < 3:
            wait_until(partial(jobs_at_least, site, n + 1), 20, "this much queued (a stall)")
    wait_until(lambda: "done" in site.states(), 60, "the whole file done")
    wait_until(site.visible_assets, 10, "the asset processed")
    (asset,) = site.visible_assets()
    assert asset["size"] == len(written) and asset["etag"] == multipart_etag(bytes(written))
    # Each stalled piece was cancelled: while it went out, or at the close (superseded).
    assert sorted(site.states()) == ["cancelled"] * 3 + ["done"]
    assert site.snapshot()["requests"]["/complete/upload"] == 1


def jobs_at_least(site, count: int) -> bool:
    return len(site.jobs()) >= count
