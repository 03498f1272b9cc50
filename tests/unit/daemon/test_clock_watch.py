"""The clock watch: a wall clock set back, a machine that slept, and the scheduler's timers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.interval import IntervalTrigger

from watchd.daemon.clock_watch import ClockWatch
from watchd.daemon.scheduler import make_scheduler, restart_intervals


class Clocks:
    """A machine's three clocks, moved by hand."""

    def __init__(self) -> None:
        self.wall, self.monotonic, self.boot = 1_800_000_000.0, 500.0, 600.0

    def run(self, seconds: float) -> None:
        self.wall += seconds
        self.monotonic += seconds
        self.boot += seconds

    def sleep(self, seconds: float) -> None:  # suspended: the monotonic clock stands still
        self.wall += seconds
        self.boot += seconds

    def watch(self) -> ClockWatch:
        return ClockWatch(lambda: self.wall, lambda: self.monotonic, lambda: self.boot)


def test_a_wall_clock_set_back_is_seen_once_and_time_going_on_is_not():
    clocks = Clocks()
    watch = clocks.watch()
    clocks.run(1)
    assert watch.look().set_back == 0.0
    clocks.wall -= 7200
    clocks.run(1)
    change = watch.look()
    assert change.set_back == 7200.0 and change.slept == 0.0
    clocks.run(1)
    assert watch.look().set_back == 0.0  # seen once
    clocks.wall -= 0.5  # NTP's small corrections are not a jump
    assert watch.look().set_back == 0.0
    clocks.wall += 3600  # set forward: waits end early, nothing to do
    assert watch.look().set_back == 0.0


def test_a_sleep_is_seen_with_its_length_and_is_not_a_clock_change():
    clocks = Clocks()
    watch = clocks.watch()
    clocks.sleep(600)
    clocks.run(1)
    change = watch.look()
    assert change.slept == 600.0 and change.set_back == 0.0
    clocks.sleep(2)  # too short to matter
    assert watch.look().slept == 0.0
    clocks.sleep(60)
    clocks.wall -= 3600  # and NTP corrected the clock on waking
    change = watch.look()
    assert change.slept == 60.0 and change.set_back == 3600.0


def test_restarted_intervals_run_again_soon_though_their_next_run_was_hours_ahead():
    scheduler = make_scheduler()
    ran = threading.Event()
    # As the scheduler saw it before the clock was set back two hours.
    later = datetime.now(UTC) + timedelta(hours=2)
    scheduler.add_job(ran.set, IntervalTrigger(seconds=0.2, start_date=later, timezone=UTC))
    scheduler.start()
    try:
        assert not ran.wait(0.5)
        restart_intervals(scheduler)
        assert ran.wait(5)
        (job,) = scheduler.get_jobs()
        assert job.next_run_time < datetime.now(UTC) + timedelta(seconds=1)
        assert job.trigger.interval == timedelta(seconds=0.2)
    finally:
        scheduler.shutdown(wait=False)
