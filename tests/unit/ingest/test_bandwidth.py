import threading

import pytest

from watchd.ingest.bandwidth import Throttle
from watchd.ingest.failures import UploadStopped


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class ClockedEvent(threading.Event):
    """An event whose waits advance the fake clock instead of sleeping."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def wait(self, timeout=None):
        self.clock.now += timeout or 0
        return self.is_set()


def test_unlimited_never_waits():
    clock = FakeClock()
    throttle = Throttle(None, ClockedEvent(clock), clock)
    for _ in range(100):
        throttle.on_chunk(1 << 20)
    assert clock.now == 0


def test_the_long_run_rate_matches_the_cap():
    clock = FakeClock()
    throttle = Throttle(1_000_000, ClockedEvent(clock), clock)
    for _ in range(100):
        throttle.on_chunk(100_000)  # 10 MB in total
    assert 9.0 <= clock.now <= 10.5


def test_a_stop_interrupts_a_wait():
    clock = FakeClock()
    stopping = ClockedEvent(clock)
    throttle = Throttle(10, stopping, clock)
    stopping.set()
    with pytest.raises(UploadStopped):
        throttle.on_chunk(1000)


def test_the_rate_can_change_at_run_time():
    clock = FakeClock()
    throttle = Throttle(1000, ClockedEvent(clock), clock)
    throttle.set_rate(None)
    throttle.on_chunk(10**9)
    assert clock.now == 0
