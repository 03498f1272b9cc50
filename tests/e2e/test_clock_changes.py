"""The system clock set back under a running daemon (libfaketime, as real as it gets).

An RTC kept in local time, corrected by NTP after a boot, sets the clock back
by hours. The daemon runs under Debian's libfaketime with the offset read
from a file at every call, so the test moves the daemon's wall clock alone
(its monotonic clock goes on, as the kernel's does).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import MIB, Site, multipart_etag, wait_until, write_file

# Debian's libfaketime, multi-threaded flavour, for this machine's architecture.
LIBFAKETIME = "/usr/lib/*/faketime/libfaketimeMT.so.1"


@pytest.fixture
def fake_clock(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Return the offset file and the environment that puts the daemon under it."""
    found = sorted(Path("/").glob(LIBFAKETIME.lstrip("/")))
    assert found, f"no {LIBFAKETIME}: scripts/test installs Debian's libfaketime"
    offset = tmp_path / "clock-offset"
    offset.write_text("+0\n")
    env = {
        "LD_PRELOAD": str(found[0]),
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_NO_CACHE": "1",
        "DONT_FAKE_MONOTONIC": "1",
    }
    return offset, env


def test_a_clock_set_back_two_hours_does_not_hold_retries_or_batches_for_two_hours(
    site: Site, fake_clock: tuple[Path, dict[str, str]]
):
    offset, env = fake_clock
    drop = site.add_folder()
    site.emulator.set_faults({"rules": [{"endpoint": "/upload/asset/init", "status": 503}]})
    site.start(env=env)
    data = write_file(drop / "Roll1" / "A001.mov", 2 * MIB)
    wait_until(lambda: site.states() == ["waiting"], 30, "the file waiting for a retry")
    offset.write_text("-2h\n")
    site.emulator.set_faults({"rules": []})
    wait_until(lambda: site.all_done(1), 30, "the file done after the clock went back")
    (asset,) = wait_until(site.visible_assets, 30, "the asset listed")
    assert asset["etag"] == multipart_etag(data) and asset["batch_name"] == "Roll1"
    log = site.log()
    assert "the system clock was set back 2h" in log
    assert "waiting job(s) were due later than any wait watchd sets" in log
    assert "the system clock went back: batch='Roll1'" in log
    assert site.stop() == 0


def test_a_clock_set_back_while_the_daemon_was_down_is_caught_up_at_its_start(
    site: Site, fake_clock: tuple[Path, dict[str, str]]
):
    offset, env = fake_clock
    drop = site.add_folder()
    site.retry.update(backoff_initial="5s", backoff_max="10s")  # not due before the restart
    site.emulator.set_faults({"rules": [{"endpoint": "/upload/asset/init", "status": 503}]})
    site.start(env=env)
    write_file(drop / "Roll1" / "A001.mov", MIB)
    wait_until(lambda: site.states() == ["waiting"], 60, "the file waiting for a retry")
    assert site.stop() == 0
    offset.write_text("-2h\n")  # corrected at boot, before watchd started again
    site.emulator.set_faults({"rules": []})
    site.start(env=env)
    wait_until(lambda: site.all_done(1), 30, "the file done after the restart")
    assert "waiting job(s) were due later than any wait watchd sets" in site.log()
    assert site.stop() == 0
