"""`watchd throttle` on a running daemon: the cap of an upload in flight changes at once."""

from __future__ import annotations

import time

from tests.e2e.harness import MIB, wait_until, watchd, write_file
from watchd.daemon.runtime_files import read_status


def sent(site) -> tuple[float, int]:
    """(when, bytes of the upload in flight sent so far) from the status the daemon wrote."""
    status = read_status(site.state) or {}
    transfers = status.get("transfers") or [{"bytes_done": 0}]
    return time.monotonic(), int(transfers[0]["bytes_done"])


def rate_over(site, seconds: float) -> float:
    """Bytes per second sent over ``seconds`` (status.json is rewritten every 2 s)."""
    start, first = sent(site)
    time.sleep(seconds)
    end, last = sent(site)
    return (last - first) / (end - start)


def test_throttle_pauses_and_frees_an_upload_in_flight_and_status_shows_the_cap(site):
    site.transfer.update({"parallel_parts": 1, "bandwidth": "512KiB/s"})
    drop = site.add_folder()
    write_file(drop / "clip.mov", 8 * MIB)
    site.start()
    config = ["--config", str(site.config_path)]
    wait_until(lambda: sent(site)[1] > 0, 30, "the upload is under way")
    assert rate_over(site, 4) < 1.5 * MIB  # the configured 512 KiB/s, loosely

    paused = watchd("throttle", "pause", *config)
    assert paused.returncode == 0, paused.stderr
    assert "paused (watchd throttle" in paused.stdout
    time.sleep(2.5)  # applied within a second; let status.json catch up
    assert rate_over(site, 4) < 0.1 * MIB  # nothing new goes while paused
    status = read_status(site.state) or {}
    assert status["bandwidth"]["cap"] == "paused"
    assert "paused (watchd throttle)" in status["summary"]  # systemd's STATUS= line
    assert [job["state"] for job in site.jobs()] == ["uploading"]  # waiting, not failed
    (line,) = [x for x in watchd("status", *config).stdout.splitlines() if "clip.mov" in x]
    assert line.endswith("%  paused"), line

    freed = watchd("throttle", "unlimited", "--for", "1h", *config)
    assert freed.returncode == 0, freed.stderr
    wait_until(lambda: site.all_done(1), 30, "the upload finished once the cap was lifted")
    shown = watchd("status", *config)
    assert "Uploads: unlimited (watchd throttle until" in shown.stdout

    cleared = watchd("throttle", "--clear", *config)
    assert cleared.returncode == 0, cleared.stderr
    assert "Uploads: cap 512KiB/s" in cleared.stdout or "cap 524288B/s" in cleared.stdout
    assert "(transfer.bandwidth)" in cleared.stdout, "the config's one cap: no schedule, no zone"
    assert site.stop() == 0
    assert "upload paused (watchd throttle)" in site.log()
