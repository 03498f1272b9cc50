import pytest

from watchd.base.stop import Stopped, StopToken
from watchd.ingest.bandwidth import Throttle


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
