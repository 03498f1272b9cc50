import os
import subprocess
import sys
import time

from watchd.base.fileversion import Fingerprint
from watchd.watch.stability import SettleTracker, open_for_writing


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fp(size, mtime=1):
    return Fingerprint(device=1, inode=2, size=size, mtime_ns=mtime)


def test_a_file_settles_only_after_the_settle_time_unchanged():
    clock = FakeClock()
    tracker = SettleTracker(10, clock)
    assert not tracker.observe("a", fp(100))
    clock.now += 5
    assert not tracker.observe("a", fp(100))
    clock.now += 5
    assert tracker.observe("a", fp(100))


def test_growth_restarts_the_wait():
    clock = FakeClock()
    tracker = SettleTracker(10, clock)
    tracker.observe("a", fp(100))
    clock.now += 9
    assert not tracker.observe("a", fp(200))  # grew
    clock.now += 9
    assert not tracker.observe("a", fp(200))
    clock.now += 1
    assert tracker.observe("a", fp(200))


def test_a_touched_file_restarts_the_wait_even_at_the_same_size():
    clock = FakeClock()
    tracker = SettleTracker(10, clock)
    tracker.observe("a", fp(100, mtime=1))
    clock.now += 10
    assert not tracker.observe("a", fp(100, mtime=2))


def test_zero_settle_still_needs_two_agreeing_checks():
    clock = FakeClock()
    tracker = SettleTracker(0, clock)
    assert not tracker.observe("a", fp(1))
    assert tracker.observe("a", fp(1))


def test_restart_and_forget():
    clock = FakeClock()
    tracker = SettleTracker(10, clock)
    tracker.observe("a", fp(1))
    clock.now += 10
    tracker.restart("a")
    assert not tracker.observe("a", fp(1))
    tracker.forget("a")
    assert tracker.pending() == []


def test_only_files_that_changed_lately_count_as_being_written():
    # (their batch waits for them; a file held open without a change must not hold it)
    clock = FakeClock()
    tracker = SettleTracker(5, clock)
    tracker.observe("growing", fp(1))
    tracker.observe("held", fp(1))
    clock.now += 30
    tracker.observe("growing", fp(2))  # grew
    tracker.observe("held", fp(1))
    tracker.restart("held")  # open for writing: its wait starts again, it did not change
    assert tracker.changed_within(10) == ["growing"]
    assert sorted(tracker.changed_within(31)) == ["growing", "held"]


def test_a_file_held_open_for_writing_is_seen_through_proc(tmp_path):
    target = tmp_path / "growing.mov"
    target.write_bytes(b"")
    writer = subprocess.Popen(
        [sys.executable, "-c", f"f = open({str(target)!r}, 'ab'); import time; time.sleep(30)"]
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not open_for_writing([str(target)]):
            time.sleep(0.05)
        assert open_for_writing([str(target)]) == {str(target)}
    finally:
        writer.kill()
        writer.wait()
    assert open_for_writing([str(target)]) == set()


def test_a_file_open_only_for_reading_does_not_count(tmp_path):
    target = tmp_path / "read.mov"
    target.write_bytes(b"data")
    with target.open("rb"):
        assert open_for_writing([str(target)]) == set()
    assert os.path.exists(target)
