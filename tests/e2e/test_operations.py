"""Running the daemon as an operator would: stop, reload, status, lost folders, bad config."""

from __future__ import annotations

import json
import signal
import time

from tests.e2e.harness import MIB, multipart_etag, wait_until, watchd, write_file


def test_sigterm_mid_upload_stops_quickly_and_a_restart_resumes_without_resending(site):
    site.emulator.set_faults({"bandwidth_bytes_per_s": 4 * MIB})
    site.transfer["parallel_parts"] = 1
    drop = site.add_folder()
    data = write_file(drop / "big.mov", 30 * MIB)
    site.start()
    wait_until(lambda: any(j["upload_id"] for j in site.jobs()), 30, "the upload started")
    wait_until(
        lambda: any(
            u["state"] == "open" and len([p for p in u["parts"] if p["etag"]]) >= 2
            for u in site.snapshot()["uploads"]
        ),
        30,
        "two parts sent",
    )
    started = time.monotonic()
    assert site.stop(timeout=15) == 0
    assert time.monotonic() - started < 10
    assert "stopping: watchers, scheduler and workers" in site.log()
    (job,) = site.jobs()
    assert job["state"] == "uploading"
    committed = site.committed_parts(job["id"])
    assert len(committed) >= 1, "at least one part's ETag was written down before the stop"

    site.emulator.set_faults({"bandwidth_bytes_per_s": None})
    site.start()
    wait_until(lambda: site.all_done(1), 60, "the upload finished after the restart")
    wait_until(site.visible_assets, 10, "the asset processed")
    (asset,) = site.visible_assets()
    assert asset["etag"] == multipart_etag(data)
    puts = site.snapshot()["part_puts"][job["key"]]
    assert all(puts[str(n)] == 1 for n in committed), (committed, puts)
    assert f"upload resumed: file={drop / 'big.mov'} job={job['id']} batch='dailies'" in site.log()
    assert f"parts already sent {len(committed)} of 6" in site.log()


def test_status_reports_folders_counts_and_json_and_exit_codes(site):
    drop = site.add_folder()
    site.write_config()
    stopped = watchd("status", "--config", str(site.config_path))
    assert stopped.returncode == 3
    assert "not running" in stopped.stdout

    site.start()
    write_file(drop / "one.mov", MIB)
    wait_until(lambda: site.all_done(1), 40, "the file done")
    wait_until(lambda: watchd("status", "--config", str(site.config_path)).returncode == 0, 10)
    text = watchd("status", "--config", str(site.config_path))
    assert "watchd is running" in text.stdout
    assert "1 done" in text.stdout
    as_json = json.loads(watchd("status", "--config", str(site.config_path), "--json").stdout)
    assert as_json["running"] is True
    assert as_json["jobs"]["done"] == 1
    assert as_json["folders"][0]["name"] == "dailies"
    assert as_json["folders"][0]["health"] == "ok"


def test_a_vanished_folder_is_unhealthy_others_carry_on_and_it_resumes(site, tmp_path):
    first = site.add_folder("dailies")
    second = site.add_folder("editorial", project="Demo Production/Dailies/Day 01")
    site.start()
    wait_until(lambda: "running" in site.log(), 20)
    first.rename(tmp_path / "unmounted")
    wait_until(lambda: "folder unhealthy: folder=dailies health=missing" in site.log(), 15)

    def health() -> dict[str, str]:
        status = json.loads(watchd("status", "--config", str(site.config_path), "--json").stdout)
        return {f["name"]: f["health"] for f in status["folders"]}

    # status.json is rewritten every 2 s, so it may trail the log line a little
    wait_until(lambda: health() == {"dailies": "missing", "editorial": "ok"}, 10, str(health()))
    shown = watchd("status", "--config", str(site.config_path))
    assert shown.returncode == 1
    (line,) = [x for x in shown.stdout.splitlines() if x.startswith("  dailies ")]
    assert line.count(str(first)) == 1, "its path said once"

    write_file(second / "cut.mov", MIB)
    wait_until(lambda: site.all_done(1), 40, "the other folder keeps uploading")

    (tmp_path / "unmounted").rename(first)
    write_file(first / "back.mov", MIB)
    wait_until(lambda: "folder healthy again: folder=dailies" in site.log(), 15)
    wait_until(lambda: site.all_done(2), 40, "the folder that came back uploads again")


def test_sighup_adds_and_removes_folders_without_a_restart(site):
    site.add_folder("dailies")
    site.start()
    wait_until(lambda: "running" in site.log(), 20)
    extra = site.add_folder("extra")
    site.write_config()
    assert site.process is not None
    site.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "watching: folder=extra" in site.log(), 15, "the new folder watched")
    write_file(extra / "new.mov", MIB)
    wait_until(lambda: site.all_done(1), 40, "a file in the new folder uploaded")

    site.folders = [f for f in site.folders if f["name"] != "extra"]
    site.write_config()
    site.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "stopped watching: folder=extra" in site.log(), 15)
    assert site.process.poll() is None


def test_a_broken_reload_keeps_the_running_configuration(site):
    site.add_folder("dailies")
    site.start()
    wait_until(lambda: "running" in site.log(), 20)
    site.config_path.write_text(site.config_path.read_text().replace("settle:", "setle:"))
    assert site.process is not None
    site.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload refused" in site.log(), 15)
    assert "setle" in site.log()
    assert site.process.poll() is None
    # The operator is not locked out of the daemon still running: the commands that work
    # on its state warn about the broken folder and go on.
    for command in ("status", "jobs", "batches", "throttle"):
        args = [command, "--config", str(site.config_path)]
        result = watchd(*args, "pause") if command == "throttle" else watchd(*args)
        assert result.returncode != 2, (command, result.stderr)
        assert "warning: the configuration has problems" in result.stderr, command
        assert "setle" in result.stderr, command
    assert "Uploads: paused" in watchd("status", "--config", str(site.config_path)).stdout
    refused = watchd("check-config", "--config", str(site.config_path))
    assert refused.returncode != 0 and "setle" in refused.stdout + refused.stderr

    def status() -> tuple[int, str]:
        result = watchd("status", "--config", str(site.config_path))
        return result.returncode, result.stdout

    shown = wait_until(lambda: "reload refused" in status()[1] and status(), 15, "in status")
    assert shown[0] == 1 and "running on the configuration from before" in shown[1]
    site.config_path.write_text(site.config_path.read_text().replace("setle:", "settle:"))
    site.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload refused" not in status()[1], 15, "the problem over")


def test_run_with_a_bad_config_names_the_file_and_key_and_exits_2(site):
    site.add_folder("dailies", settle="ten seconds")
    site.write_config()
    result = watchd("run", "--config", str(site.config_path))
    assert result.returncode == 2
    assert str(site.config_path) in result.stderr
    assert "folders[0].settle" in result.stderr


def test_a_permanent_failure_is_reported_and_retry_sends_it_again(site):
    site.emulator.set_faults({"rules": [{"endpoint": "/upload/asset/init", "status": 403}]})
    drop = site.add_folder()
    site.start()
    write_file(drop / "refused.mov", MIB)
    wait_until(lambda: site.states() == ["failed"], 40, "the job failed")
    # the state is committed before the line is written: wait for the line, then check it
    wait_until(lambda: "failed: file=" in site.log(), 10, "the failure logged")
    assert "`watchd retry 1` tries again" in site.log()
    status = json.loads(watchd("status", "--config", str(site.config_path), "--json").stdout)
    assert status["recent_errors"][0]["state"] == "failed"
    assert watchd("status", "--config", str(site.config_path)).returncode == 1

    site.emulator.set_faults({"rules": []})
    result = watchd("retry", "--config", str(site.config_path), "--failed")
    assert result.returncode == 0, result.stderr
    assert "retrying 1 job(s): 1" in result.stdout
    wait_until(lambda: site.all_done(1), 40, "the retried job done")
    wait_until(site.visible_assets, 10, "the retried file ingested")
    (job,) = site.jobs()
    (call,) = site.snapshot()["complete_upload_calls"]
    assert call["keys"] == [job["key"]]  # its first batch closed empty; it went in a new one
    assert watchd("retry", "--config", str(site.config_path), "1").returncode == 1
    again = watchd("retry", "--config", str(site.config_path), "--failed")
    assert again.returncode == 0 and again.stdout == "no failed files to retry\n"


def test_jobs_batches_and_cancel_work_while_the_daemon_runs(site):
    site.emulator.set_faults({"bandwidth_bytes_per_s": 2 * MIB})
    site.transfer["parallel_parts"] = 1
    drop = site.add_folder()
    site.start()
    write_file(drop / "Roll1" / "slow.mov", 30 * MIB)
    wait_until(lambda: site.states() == ["uploading"], 30, "the upload started")
    config = str(site.config_path)

    jobs = json.loads(watchd("jobs", "--config", config, "--json").stdout)
    assert [(j["job"], j["state"], j["batch"]) for j in jobs] == [(1, "uploading", "Roll1")]
    cancelled = watchd("cancel", "--config", config, "1")
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled 1 job(s): 1" in cancelled.stdout
    wait_until(
        lambda: [u["state"] for u in site.snapshot()["uploads"]] == ["aborted"], 30, "aborted"
    )
    assert site.states() == ["cancelled"]
    assert (drop / "Roll1" / "slow.mov").exists()
    assert watchd("cancel", "--config", config, "1").returncode == 1  # already finished

    batches = json.loads(watchd("batches", "--config", config, "--json").stdout)
    assert batches[0]["name"] == "Roll1"
    assert (batches[0]["files"], batches[0]["left_out"]) == (0, 1), "its one file cancelled"
    listing = watchd("jobs", "--config", config, "--state", "cancelled")
    assert "cancelled by an operator" in listing.stdout
