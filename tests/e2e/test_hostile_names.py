"""Hostile names and moves: one bad file costs only itself, none is silently skipped."""

import json
import os
import time

from tests.e2e.harness import MIB, multipart_etag, wait_until, watchd, write_file


def test_a_name_that_is_not_utf8_goes_up_under_a_safe_name_and_costs_nothing_else(site):
    drop = site.add_folder()
    write_file(drop / "a_before.mov", 1 * MIB)
    bad = os.path.join(os.fsencode(drop), b"bad\xff\n.mov")
    with open(bad, "wb") as handle:
        handle.write(os.urandom(40_000))
    write_file(drop / "z_after.mov", 1 * MIB)
    site.start()
    wait_until(lambda: site.all_done(3), 60, "all three files done")
    names = sorted(a["name"] for a in site.snapshot()["assets"])
    assert names == ["a_before.mov", "bad\ufffd.mov", "z_after.mov"]
    assert os.path.exists(bad), "kept, under its own name"
    log = site.log()
    assert 'file="' in log and "bad\\xff\\n.mov" in log
    assert "Traceback" not in log and "Logging error" not in log
    listing = watchd("jobs", "--config", str(site.config_path))
    assert listing.returncode == 0, listing.stderr
    assert "bad\\xff\\n.mov" in listing.stdout
    status = watchd("status", "--config", str(site.config_path))
    assert status.returncode == 0, status.stdout


def test_a_symlink_loop_is_a_reported_problem_and_the_scan_goes_on(site):
    drop = site.add_folder()
    os.symlink("loopA.mov", drop / "loopB.mov")
    os.symlink("loopB.mov", drop / "loopA.mov")
    write_file(drop / "zz_only_a_scan_finds_me.mov", 1 * MIB)
    site.start()
    wait_until(lambda: site.all_done(1), 60, "the file after the loop done")
    status = watchd("status", "--config", str(site.config_path))
    assert status.returncode == 1, status.stdout
    assert "loopA.mov" in status.stdout and "symlink loop" in status.stdout
    report = json.loads(watchd("status", "--config", str(site.config_path), "--json").stdout)
    (folder,) = report["folders"]
    assert {p["file"].rsplit("/", 1)[1] for p in folder["problems"]} == {"loopA.mov", "loopB.mov"}
    (drop / "loopA.mov").unlink()
    (drop / "loopB.mov").unlink()
    wait_until(
        lambda: watchd("status", "--config", str(site.config_path)).returncode == 0,
        30,
        "the problem gone with the links",
    )


def test_a_file_renamed_during_its_upload_is_followed_and_lands_once(site):
    site.emulator.set_faults({"bandwidth_bytes_per_s": 1 * MIB})
    site.transfer["parallel_parts"] = 1
    drop = site.add_folder()
    site.start()
    data = write_file(drop / "A002.mov", 12 * MIB)
    wait_until(
        lambda: any(p["etag"] for u in site.snapshot()["uploads"] for p in u["parts"]),
        60,
        "the first part sent",
    )
    (drop / "A002.mov").rename(drop / "A002_final.mov")
    site.emulator.set_faults({"bandwidth_bytes_per_s": None})
    wait_until(lambda: site.all_done(1), 60, "the renamed file done")
    (job,) = site.jobs()
    assert job["path"].endswith("A002_final.mov")
    (asset,) = site.snapshot()["assets"]
    assert asset["etag"] == multipart_etag(data)
    assert asset["name"] == "A002.mov", "its upload had begun under that name"
    assert "renamed: file=" in site.log()
    puts = site.snapshot()["part_puts"][job["key"]]
    assert puts["1"] == 1, "the first part was not sent again"


def test_a_file_renamed_while_queued_goes_up_once_under_its_new_name(site):
    site.emulator.set_faults({"bandwidth_bytes_per_s": 1 * MIB})
    site.transfer["parallel_files"] = 1  # the second file waits in the queue
    drop = site.add_folder()
    site.start()
    write_file(drop / "first.mov", 8 * MIB)
    wait_until(lambda: len(site.jobs()) == 1 and site.jobs()[0]["upload_id"], 30, "uploading")
    write_file(drop / "take1.mov", 1 * MIB)
    wait_until(lambda: len(site.jobs()) == 2, 30, "the second file queued")
    (drop / "take1.mov").rename(drop / "take1_final.mov")
    wait_until(lambda: "renamed: file=" in site.log(), 30, "the rename followed")
    site.emulator.set_faults({"bandwidth_bytes_per_s": None})
    wait_until(lambda: site.all_done(2), 60, "both done")
    names = sorted(a["name"] for a in site.snapshot()["assets"])
    assert names == ["first.mov", "take1_final.mov"]


def test_an_empty_placeholder_is_not_uploaded_and_the_grown_file_is_once(site):
    drop = site.add_folder()
    site.start()
    (drop / "grow0.mov").write_bytes(b"")
    wait_until(lambda: "skipped (empty)" in site.log(), 30, "the empty file reported")
    time.sleep(2)
    with open(drop / "grow0.mov", "wb") as handle:
        handle.write(os.urandom(2_000_000))
    wait_until(lambda: site.all_done(1), 60, "the grown file done")
    time.sleep(3)
    (asset,) = site.snapshot()["assets"]
    assert asset["size"] == 2_000_000
    assert site.log().count("skipped (empty)") == 1


def test_a_subfolder_whose_name_is_not_utf8_still_uploads_its_files_in_a_clean_batch(site):
    drop = site.add_folder(metadata={"from_path": "(?P<roll>[^/]+)/"})
    bad_dir = os.path.join(os.fsencode(drop), b"Roll\xff\x1b[31m1")
    os.mkdir(bad_dir)
    with open(os.path.join(bad_dir, b"A001.mov"), "wb") as handle:
        handle.write(os.urandom(40_000))
    site.start()
    wait_until(lambda: site.all_done(1), 60, "the file done")
    (call,) = site.snapshot()["complete_upload_calls"]
    assert call["batch_name"] == "Roll\ufffd[31m1"
    wait_until(site.visible_assets, 10, "the asset processed")
    (asset,) = site.visible_assets()
    assert asset["metadata"] == {"roll": "Roll\ufffd[31m1"}
    assert "cannot be taken" not in site.log() and "Traceback" not in site.log()
