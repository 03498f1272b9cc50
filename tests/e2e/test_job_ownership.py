"""The cases of "one owner for a job's state", tried from outside as an operator would."""

import signal
import time

from tests.e2e.harness import MIB, wait_until, watchd, write_file


def test_a_cancel_during_a_slow_init_leaves_nothing_behind_and_sticks(site):
    site.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/init", "latency_ms": 15000, "count": 1}]}
    )
    drop = site.add_folder()
    site.start()
    source = drop / "A001.mov"
    write_file(source, 6 * MIB)
    before = source.stat()
    wait_until(
        lambda: site.snapshot()["requests"].get("/upload/asset/init"), 30, "the init in flight"
    )
    assert site.states() == ["queued"]
    config = str(site.config_path)
    cancelled = watchd("cancel", "--config", config, "1")
    assert cancelled.returncode == 0, cancelled.stderr
    assert "cancelled 1 job(s): 1" in cancelled.stdout
    wait_until(
        lambda: site.snapshot()["uploads"] and "upload aborted" in site.log(),
        30,
        "the upload made by the slow init aborted",
    )
    assert site.states() == ["cancelled"]
    assert site.snapshot()["assets"] == []
    assert all(u["state"] == "aborted" for u in site.snapshot()["uploads"])
    assert site.jobs()[0]["upload_id"] is None
    assert source.stat().st_mtime_ns == before.st_mtime_ns

    # A reload that changes the folder's settings restarts its watcher: not queued again.
    site.folders[0]["settle"] = "2s"
    site.write_config()
    assert site.process is not None
    site.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in site.log(), 20, "the reload")
    time.sleep(5)  # two rescans
    assert site.states() == ["cancelled"]

    # Nor after a restart.
    assert site.stop() == 0
    site.start()
    wait_until(lambda: site.log().count("running:") >= 2, 20, "the restart")
    time.sleep(5)
    assert site.states() == ["cancelled"]
    assert site.snapshot()["assets"] == []

    retried = watchd("retry", "--config", config, "1")
    assert retried.returncode == 0, retried.stderr
    wait_until(lambda: site.all_done(1), 60, "the retried file done")
    wait_until(lambda: len(site.visible_assets()) == 1, 20, "one asset")


def test_sigterm_during_a_long_retry_after_stops_in_seconds(site):
    site.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/part", "status": 429, "retry_after": 120}]}
    )
    drop = site.add_folder()
    site.start()
    write_file(drop / "A001.mov", 6 * MIB)
    wait_until(lambda: "trying again in 120" in site.log(), 30, "the 120 s wait")
    started = time.monotonic()
    assert site.stop(timeout=30) == 0
    took = time.monotonic() - started
    assert took < 8, f"took {took:.1f}s"
    assert "still busy at the stop deadline" not in site.log()
    assert "leaving with" not in site.log()
    (job,) = site.jobs()
    assert job["state"] == "uploading" and job["attempts"] == 0


def test_status_shows_uploads_waiting_to_be_aborted(site):
    site.emulator.set_faults({"bandwidth_bytes_per_s": 2 * MIB})
    drop = site.add_folder()
    site.start()
    write_file(drop / "A001.mov", 30 * MIB)
    site.upload_begun()
    site.emulator.set_faults({"rules": [{"endpoint": "/upload/asset/abort", "status": 503}]})
    config = str(site.config_path)
    assert watchd("cancel", "--config", config, "1").returncode == 0
    wait_until(lambda: "could not abort" in site.log(), 30, "the failed abort")
    status = watchd("status", "--config", config)
    assert "Uploads waiting to be aborted on Flow Capture: 1" in status.stdout
    site.emulator.set_faults({"rules": [], "bandwidth_bytes_per_s": None})
    # The sweep runs every 10 s (after one failed sweep, 20 s).
    wait_until(lambda: site.jobs()[0]["upload_id"] is None, 45, "the sweep's abort")
    assert "Uploads waiting" not in watchd("status", "--config", config).stdout
    assert all(u["state"] == "aborted" for u in site.snapshot()["uploads"])
