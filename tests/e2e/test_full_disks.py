"""A full disk under the state database or the archive: one clear problem, nothing lost."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.e2e.harness import MIB, wait_until, watchd, write_file

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")


def mount_tmpfs(path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def unmount(path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path) -> None:
    """Fill the file system holding ``path`` (a file named .filler)."""
    with open(path / ".filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


def test_a_full_state_disk_pauses_uploads_with_one_problem_and_they_go_on_after(site):
    mount_tmpfs(site.state, "3m")
    try:
        drop = site.add_folder()
        site.start()
        write_file(drop / "before.mov", 1 * MIB)
        wait_until(lambda: site.all_done(1), 60, "the first file done")
        fill(site.state)
        write_file(drop / "during1.mov", 1 * MIB)
        write_file(drop / "during2.mov", 1 * MIB)
        wait_until(lambda: "health problem: database writes: state disk full" in site.log(), 30)
        wait_until(  # status.json is rewritten every 2 s
            lambda: "state disk full" in watchd("status", "--config", str(site.config_path)).stdout,
            10,
            "status naming the full state disk",
        )
        status = watchd("status", "--config", str(site.config_path))
        assert status.returncode == 1
        log = site.log()
        assert log.count("health problem: database writes") == 1
        assert "Traceback" not in log

        (site.state / ".filler").unlink()
        wait_until(lambda: site.all_done(3), 60, "the files queued and done once there is room")
        wait_until(lambda: "health problem over: database writes" in site.log(), 30)
    finally:
        site.stop()
        unmount(site.state)


def test_a_full_archive_names_the_archive_leaves_no_partial_and_moves_later(site, tmp_path):
    archive = tmp_path / "archive"
    mount_tmpfs(archive, "1m")
    try:
        drop = site.add_folder(after_upload={"move_to": str(archive)})
        site.start()
        write_file(drop / "big.mov", 2 * MIB)
        wait_until(lambda: f"moving to the archive {archive} failed" in site.log(), 60)
        assert (drop / "big.mov").exists()
        assert [p.name for p in archive.iterdir()] == [], "no hidden partial copy left"
        (job,) = site.jobs()
        assert job["state"] == "waiting" and job["attempts"] == 0
        said = "health problem: archive dailies: 1 uploaded file(s) wait: moving to the archive"
        wait_until(lambda: said in site.log(), 30, "the archive a problem of its folder")
        status = watchd("status", "--config", str(site.config_path))
        assert status.returncode == 1 and "archive dailies" in status.stdout
        subprocess.run(["mount", "-o", "remount,size=8m", str(archive)], check=True)
        wait_until(lambda: site.all_done(1), 60, "moved once the archive has room")
        assert (archive / "big.mov").exists() and not (drop / "big.mov").exists()
        wait_until(lambda: "health problem over: archive dailies" in site.log(), 30)
    finally:
        site.stop()
        unmount(archive)
