"""Outages do not use up files' attempts; a lost database or a removed folder loses nothing."""

import json
import signal
import time
from datetime import datetime

from tests.e2e.harness import MIB, wait_until, watchd, write_file


def test_an_unreachable_api_makes_files_wait_without_spending_attempts(site):
    site.retry = {"max_attempts": 2, "backoff_initial": "1s", "backoff_max": "1s"}
    drop = site.add_folder()
    site.start()
    wait_until(lambda: "running:" in site.log(), 20, "the daemon up")
    site.emulator.set_faults({"rules": [{"endpoint": "/*", "reset": True}]})
    write_file(drop / "A001.mov", 2 * MIB)
    write_file(drop / "A002.mov", 2 * MIB)
    wait_until(
        lambda: len(site.jobs()) == 2 and all(j["waiting_on"] == "service" for j in site.jobs()),
        30,
        "both files waiting on Flow Capture",
    )
    time.sleep(6)  # with attempts counted, two attempts would have failed both by now
    assert "failed" not in site.states()  # (a job may be between two looks at the service)
    assert {j["attempts"] for j in site.jobs()} == {0}
    report = json.loads(watchd("status", "--config", str(site.config_path), "--json").stdout)
    assert "flowcapture" in report["problems"]
    listing = watchd("jobs", "--config", str(site.config_path)).stdout
    assert "waiting for Flow Capture" in listing

    site.emulator.set_faults({"rules": []})
    wait_until(lambda: site.all_done(2), 60, "both done once Flow Capture answers")
    assert {j["attempts"] for j in site.jobs()} == {0}
    # health is looked at with each status write (every 2 s): it may trail the uploads
    wait_until(lambda: "health problem over: flowcapture" in site.log(), 10, "the all-clear")


def test_a_retry_after_on_init_is_honoured(site):
    site.retry = {"max_attempts": 3, "backoff_initial": "1s", "backoff_max": "1s"}
    site.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/init", "status": 429, "retry_after": 3, "count": 2}]}
    )
    drop = site.add_folder()
    site.start()
    write_file(drop / "A001.mov", 1 * MIB)

    def waiting_gap():
        for job in site.jobs():
            if job["state"] == "waiting" and job["next_attempt_at"]:
                return datetime.fromisoformat(job["next_attempt_at"]) - datetime.fromisoformat(
                    job["updated_at"]
                )
        return None

    gap = wait_until(waiting_gap, 30, "the job waiting after a 429")
    assert gap.total_seconds() >= 3, gap
    wait_until(lambda: site.all_done(1), 60, "done after the 429s")
    assert site.jobs()[0]["attempts"] == 0, "asked to slow down: not the file's failure"


def test_a_deleted_database_stops_the_daemon_and_a_new_one_uploads_nothing_twice(site):
    drop = site.add_folder()
    write_file(drop / "A001.mov", 1 * MIB)
    write_file(drop / "Day 2/A002.mov", 2 * MIB)
    site.start()
    wait_until(lambda: site.all_done(2), 60, "both done")
    wait_until(lambda: len(site.visible_assets()) == 2, 20, "both listed")
    for suffix in ("", "-wal", "-shm"):
        (site.state / f"watchd.db{suffix}").unlink(missing_ok=True)
    assert site.wait_exit(30) == 1
    assert "was deleted while watchd ran" in site.log()

    site.start()
    wait_until(lambda: len(site.jobs()) == 2, 30, "both files seen again")
    wait_until(
        lambda: site.log().count("already in Flow Capture, not uploaded again") == 2,
        30,
        "both recognised",
    )
    assert site.states() == ["done", "done"]
    assert len(site.snapshot()["assets"]) == 2, "nothing uploaded twice"
    write_file(drop / "A003.mov", 1 * MIB)  # new during this run: uploaded as usual
    wait_until(lambda: site.all_done(3), 60, "the new file done")
    assert len(site.snapshot()["assets"]) == 3
    listing = watchd("jobs", "--config", str(site.config_path)).stdout
    assert "not uploaded again" in listing


def test_a_folder_removed_mid_upload_finishes_that_upload_and_closes_its_batch(site):
    site.emulator.set_faults({"bandwidth_bytes_per_s": 2 * MIB})
    site.transfer["parallel_files"] = 1
    drop = site.add_folder()
    site.start()
    write_file(drop / "big.mov", 12 * MIB)
    site.upload_begun("the big upload started")
    write_file(drop / "later.mov", 1 * MIB)
    wait_until(lambda: len(site.jobs()) == 2, 30, "the second file queued")
    removed = site.folders.pop()
    site.write_config()
    assert site.process is not None
    site.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "stopped watching: folder=dailies" in site.log(), 20, "the reload")
    site.emulator.set_faults({"bandwidth_bytes_per_s": None})
    wait_until(lambda: site.states() == ["done", "cancelled"], 60, "the upload under way done")
    wait_until(lambda: len(site.visible_assets()) == 1, 20, "its batch closed and processed")
    assert "was removed from the configuration" in (site.jobs()[1]["last_error"] or "")

    site.folders.append(removed)
    site.write_config()
    site.process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: site.states().count("done") == 2, 60, "the cancelled file queued again and done"
    )
    wait_until(lambda: len(site.visible_assets()) == 2, 20, "both listed")


def test_a_file_deleted_from_a_folder_removed_mid_upload_is_cancelled_not_waited_for(site):
    site.emulator.set_faults({"bandwidth_bytes_per_s": 2 * MIB})
    drop = site.add_folder()
    site.start()
    write_file(drop / "big.mov", 24 * MIB)
    site.upload_begun()
    site.folders.pop()
    site.write_config()
    assert site.process is not None
    site.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "stopped watching: folder=dailies" in site.log(), 20, "the reload")
    (drop / "big.mov").unlink()  # its folder still there: the file is gone, not the share
    wait_until(lambda: site.states() == ["cancelled"], 40, "the vanished file cancelled")
    wait_until(lambda: "batch closed empty: folder=dailies" in site.log(), 30, "its batch closed")
    assert site.snapshot()["uploads"][0]["state"] == "aborted"


def test_a_folder_taken_out_while_the_daemon_was_down_is_said_and_its_unstarted_files_cancelled(
    site,
):
    site.emulator.set_faults({"bandwidth_bytes_per_s": 1 * MIB})
    site.transfer["parallel_files"] = 1
    drop = site.add_folder()
    kept = site.add_folder("kept")
    site.start()
    write_file(drop / "big.mov", 20 * MIB)
    site.upload_begun("the upload begun")
    write_file(drop / "later.mov", 1 * MIB)
    wait_until(lambda: len(site.jobs()) == 2, 30, "the second file queued")
    site.kill()
    site.folders = [f for f in site.folders if f["name"] != "dailies"]
    site.emulator.set_faults({"bandwidth_bytes_per_s": None})
    site.start()
    wait_until(lambda: site.log().count("running:") == 2, 20, "the restart")
    assert (
        "folder dailies is no longer in the configuration: 1 file(s) not started are cancelled "
        "(queued again if it comes back); 1 begun stay as they are, their batch open, until it "
        "is put back under that name (`watchd jobs --folder dailies` lists them)"
    ) in site.log()
    assert sorted(site.states()) == ["cancelled", "uploading"]
    write_file(kept / "other.mov", 1 * MIB)
    wait_until(lambda: "done" in site.states(), 30, "the other folder served")
