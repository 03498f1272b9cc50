"""A share unmounted mid-upload is not "every file was deleted": the daemon waits for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.harness import MIB, multipart_etag, wait_until, write_file

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a share needs root")


def mount_bind(source, target) -> None:
    subprocess.run(["mount", "--bind", str(source), str(target)], check=True)


def unmount(target) -> None:
    subprocess.run(["umount", "-l", str(target)], check=False)


def test_an_unmounted_share_pauses_its_uploads_and_they_resume_when_it_returns(site, tmp_path):
    backing = tmp_path / "share"
    backing.mkdir()
    drop = site.add_folder(settle="1s")
    site.transfer["parallel_parts"] = 1
    mount_bind(backing, drop)
    try:
        site.start()
        write_file(backing / "first.mov", 2 * MIB)
        wait_until(lambda: site.all_done(1), 40, "the first file done")

        site.emulator.set_faults({"bandwidth_bytes_per_s": 3 * MIB})
        big = write_file(backing / "big.mov", 20 * MIB)
        wait_until(
            lambda: any(
                u["state"] == "open" and any(p["etag"] for p in u["parts"])
                for u in site.snapshot()["uploads"]
            ),
            40,
            "the big upload under way",
        )
        unmount(drop)
        wait_until(lambda: "health=unmounted" in site.log(), 20, "the folder seen unmounted")
        wait_until(lambda: "drop folder unavailable" in site.log(), 30, "the upload paused")
        assert "cancelled" not in site.states()

        site.emulator.set_faults({"bandwidth_bytes_per_s": None})
        mount_bind(backing, drop)
        wait_until(lambda: "folder healthy again: folder=dailies" in site.log(), 20)
        wait_until(lambda: site.all_done(2), 60, "the big file done after the share returned")
        wait_until(lambda: len(site.visible_assets()) == 2, 10)
        assets = {a["name"]: a for a in site.visible_assets()}
        assert assets["big.mov"]["etag"] == multipart_etag(big)
        assert site.snapshot()["requests"]["/upload/asset/init"] == 2, "nothing uploaded twice"
    finally:
        unmount(drop)


def test_an_archive_the_service_cannot_write_is_reported_with_the_fix(site, tmp_path):
    backing = tmp_path / "archive-backing"
    backing.mkdir()
    archive = tmp_path / "archive"
    archive.mkdir()
    site.add_folder(after_upload={"move_to": str(archive)})
    mount_bind(backing, archive)
    subprocess.run(["mount", "-o", "remount,ro,bind", str(archive)], check=True)
    try:
        site.start()
        wait_until(lambda: "health problem: folder dailies: read-only" in site.log(), 20)
        status = subprocess.run(
            [sys.executable, "-m", "watchd", "status", "--config", str(site.config_path), "--json"],
            check=False,
            capture_output=True,
            text=True,
        )
        assert status.returncode == 1
        message = json.loads(status.stdout)["folders"][0]["message"]
        assert str(archive) in message and "ReadWritePaths" in message
    finally:
        site.kill()
        unmount(archive)
