import pytest

from watchd.base.stop import Stopped, StopToken
from watchd.ingest.bandwidth import MAX_WAIT_SLICE_SECONDS, PAUSED, REFRESH_SECONDS, Caps, Throttle


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class ClockedStop(StopToken):
    """A stop token whose waits advance the fake clock instead of sleeping."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def wait(self, seconds):
        self.clock.now += seconds
        return self.stopped


def test_unlimited_never_waits():
    clock = FakeClock()
    throttle = Throttle(None, clock)
    for _ in range(100):
        throttle.acquire(1 << 20, ClockedStop(clock))
    assert clock.now == 0


def test_the_long_run_rate_matches_the_cap():
    clock = FakeClock()
    throttle = Throttle(1_000_000, clock)
    stop = ClockedStop(clock)
    for _ in range(100):
        throttle.acquire(100_000, stop)  # 10 MB in total
    assert 9.0 <= clock.now <= 10.5


def test_a_stop_interrupts_a_wait_and_says_why():
    clock = FakeClock()
    stop = ClockedStop(clock)
    throttle = Throttle(10, clock)
    stop.stop("cancelled by an operator")
    with pytest.raises(Stopped, match="cancelled by an operator"):
        throttle.acquire(1000, stop)


def test_the_rate_can_change_at_run_time():
    clock = FakeClock()
    throttle = Throttle(1000, clock)
    throttle.set_rate(None)
    throttle.acquire(10**9, ClockedStop(clock))
    assert clock.now == 0


def test_a_pause_lets_no_bytes_through_until_the_source_lifts_it():
    clock = FakeClock()
    throttle = Throttle(None, clock)
    caps = {"now": Caps(PAUSED)}
    throttle.follow(lambda: caps["now"])

    class LiftAfterFiveSeconds(ClockedStop):
        def wait(self, seconds):
            if self.clock.now >= 5:
                caps["now"] = Caps(None)
            return super().wait(seconds)

    throttle.acquire(1000, LiftAfterFiveSeconds(clock))
    assert 5 <= clock.now <= 5 + REFRESH_SECONDS + MAX_WAIT_SLICE_SECONDS


def test_a_change_of_cap_reaches_a_waiting_chunk_within_a_second():
    clock = FakeClock()
    throttle = Throttle(None, clock)
    caps = {"now": Caps(100_000)}
    throttle.follow(lambda: caps["now"])
    stop = ClockedStop(clock)
    throttle.acquire(50_000, stop)  # the burst
    caps["now"] = Caps(None)  # while the next chunk would wait 10 s at the old cap
    throttle.acquire(1_000_000, stop)
    assert clock.now <= 1.0


def test_a_folder_cap_limits_its_own_uploads_and_not_the_others():
    clock = FakeClock()
    throttle = Throttle(None, clock)
    throttle.follow(lambda: Caps(10_000_000, {"dailies": 1_000_000, "edit": None}))
    stop = ClockedStop(clock)
    for _ in range(100):
        throttle.acquire(100_000, stop, "edit")  # 10 MB under the 10 MB/s total
    edit_seconds = clock.now
    for _ in range(100):
        throttle.acquire(100_000, stop, "dailies")  # 10 MB under its own 1 MB/s
    assert edit_seconds <= 1.5
    assert 9.0 <= clock.now - edit_seconds <= 10.5


def test_the_total_cap_still_holds_for_a_folder_with_a_higher_cap_of_its_own():
    clock = FakeClock()
    throttle = Throttle(None, clock)
    throttle.follow(lambda: Caps(1_000_000, {"dailies": 50_000_000}))
    stop = ClockedStop(clock)
    for _ in range(100):
        throttle.acquire(100_000, stop, "dailies")
    assert 9.0 <= clock.now <= 10.5
