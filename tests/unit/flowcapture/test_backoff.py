import random

from watchd.flowcapture.backoff import backoff_seconds


def test_no_wait_before_the_first_failure():
    assert backoff_seconds(0, initial=10, cap=60) == 0


def test_waits_grow_exponentially_within_jitter_bounds():
    rng = random.Random(1)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40)]:
        for _ in range(50):
            delay = backoff_seconds(attempt, initial=10, cap=1000, rng=rng)
            assert ceiling / 2 <= delay <= ceiling


def test_waits_never_exceed_the_cap_even_after_many_failures():
    rng = random.Random(2)
    delays = [backoff_seconds(500, initial=10, cap=60, rng=rng) for _ in range(100)]
    assert max(delays) <= 60
    assert min(delays) >= 30


def test_jitter_spreads_clients_that_failed_together():
    rng = random.Random(3)
    delays = {round(backoff_seconds(4, initial=1, cap=100, rng=rng), 3) for _ in range(20)}
    assert len(delays) > 10
