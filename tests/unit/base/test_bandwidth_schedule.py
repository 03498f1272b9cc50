"""The weekly timetable read at given moments: day boundaries, the week's end, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from watchd.base.bandwidth_schedule import PAUSED, BandwidthSchedule
from watchd.config.bandwidth_syntax import parse_bandwidth

MB = 1_000_000
ON_SET = "Mon-Fri 07:00 20MB/s, Mon-Fri 19:00 unlimited, Sat-Sun pause"
LONDON = ZoneInfo("Europe/London")


def rate(schedule: BandwidthSchedule, when: datetime) -> int | None:
    return schedule.at(when, LONDON).rate


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


def test_a_working_day_is_capped_from_seven_and_free_from_seven_in_the_evening():
    schedule = parse_bandwidth(ON_SET)
    wednesday = (2024, 6, 12)
    assert rate(schedule, local(*wednesday, 6, 59)) is None  # Tuesday 19:00 still holds
    assert rate(schedule, local(*wednesday, 7, 0)) == 20 * MB
    assert rate(schedule, local(*wednesday, 18, 59)) == 20 * MB
    assert rate(schedule, local(*wednesday, 19, 0)) is None


def test_an_entry_holds_across_midnight_and_the_weekend_carries_into_monday():
    schedule = parse_bandwidth(ON_SET)
    assert rate(schedule, local(2024, 6, 14, 23, 59)) is None  # Friday evening
    assert rate(schedule, local(2024, 6, 15, 0, 0)) == PAUSED  # Saturday
    assert rate(schedule, local(2024, 6, 16, 23, 59)) == PAUSED  # Sunday
    assert rate(schedule, local(2024, 6, 17, 6, 0)) == PAUSED  # Monday before 07:00
    assert rate(schedule, local(2024, 6, 17, 7, 0)) == 20 * MB


def test_a_fake_clock_stepping_through_a_day_boundary_sees_each_change_once():
    schedule = parse_bandwidth("Mon-Fri 07:00 20MB/s, 22:00 5MB/s, Sat-Sun 09:00 unlimited")
    moment = local(2024, 6, 14, 21, 0).astimezone(UTC)  # Friday 21:00
    seen: list[tuple[str, int | None]] = []
    for _ in range(14 * 4):  # every 15 minutes until Saturday 11:00
        now = schedule.at(moment, LONDON)
        if not seen or seen[-1][1] != now.rate:
            seen.append((moment.astimezone(LONDON).strftime("%a %H:%M"), now.rate))
        moment += timedelta(minutes=15)
    assert seen == [("Fri 21:00", 20 * MB), ("Fri 22:00", 5 * MB), ("Sat 09:00", None)]


def test_the_next_change_names_the_next_entry_with_another_cap():
    schedule = parse_bandwidth(ON_SET)
    assert schedule.at(local(2024, 6, 12, 8, 0), LONDON).next_change == "Wed 19:00"
    assert schedule.at(local(2024, 6, 14, 20, 0), LONDON).next_change == "Sat 00:00"
    assert schedule.at(local(2024, 6, 15, 12, 0), LONDON).next_change == "Mon 07:00"
    assert parse_bandwidth("40MB/s").at(local(2024, 6, 15, 12, 0), LONDON).next_change is None


def test_the_schedule_is_read_in_wall_clock_time_of_its_zone_across_the_spring_change():
    # Europe/London, Sunday 31 March 2024: 01:00 GMT becomes 02:00 BST.
    schedule = parse_bandwidth("00:00 1MB/s, 01:30 2MB/s, 03:00 3MB/s")
    before = datetime(2024, 3, 31, 0, 59, tzinfo=UTC)  # 00:59 GMT
    assert rate(schedule, before) == 1 * MB
    # One minute later the clocks read 02:00: the 01:30 start, skipped over, is in force.
    assert rate(schedule, before + timedelta(minutes=1)) == 2 * MB
    # 03:00 local comes one hour after 02:00 local, i.e. at 02:00 UTC.
    assert rate(schedule, datetime(2024, 3, 31, 1, 59, tzinfo=UTC)) == 2 * MB
    assert rate(schedule, datetime(2024, 3, 31, 2, 0, tzinfo=UTC)) == 3 * MB


def test_a_start_in_the_hour_repeated_in_autumn_is_not_undone_by_the_repeat():
    # Europe/London, Sunday 27 October 2024: 02:00 BST becomes 01:00 GMT (01:00-01:59 twice).
    schedule = parse_bandwidth("00:00 1MB/s, 01:30 2MB/s, 04:00 3MB/s")
    first_pass = datetime(2024, 10, 27, 0, 29, tzinfo=UTC)  # 01:29 BST
    assert rate(schedule, first_pass) == 1 * MB
    assert rate(schedule, first_pass + timedelta(minutes=1)) == 2 * MB  # 01:30 BST
    assert rate(schedule, datetime(2024, 10, 27, 1, 0, tzinfo=UTC)) == 2 * MB  # 01:00 GMT
    assert rate(schedule, datetime(2024, 10, 27, 1, 15, tzinfo=UTC)) == 2 * MB  # 01:15 GMT
    assert rate(schedule, datetime(2024, 10, 27, 3, 59, tzinfo=UTC)) == 2 * MB
    assert rate(schedule, datetime(2024, 10, 27, 4, 0, tzinfo=UTC)) == 3 * MB  # 04:00 GMT


def test_the_same_instant_falls_on_different_days_in_different_zones():
    schedule = parse_bandwidth(ON_SET)
    instant = datetime(2024, 6, 14, 23, 30, tzinfo=UTC)  # Friday in UTC
    assert schedule.at(instant, ZoneInfo("UTC")).rate is None
    assert schedule.at(instant, ZoneInfo("Asia/Tokyo")).rate == PAUSED  # Saturday 08:30
