from datetime import UTC, datetime, timedelta

from watchd.daemon.bandwidth_control import _clock_time

NOW = datetime(2026, 12, 5, 21, 47, tzinfo=UTC)  # a Saturday


def at(delta: timedelta) -> float:
    return (NOW + delta).timestamp()


def test_a_time_within_the_week_ahead_is_its_weekday_and_time_further_its_date_too():
    assert _clock_time(at(timedelta(hours=2)), UTC, NOW) == "Sat 23:47"
    assert _clock_time(at(timedelta(days=1)), UTC, NOW) == "Sun 21:47"
    assert _clock_time(at(timedelta(days=8)), UTC, NOW) == "Sun 2026-12-13 21:47"
    assert _clock_time(at(timedelta(days=400)), UTC, NOW) == "Sun 2028-01-09 21:47"
