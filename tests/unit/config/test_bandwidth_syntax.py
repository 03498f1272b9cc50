"""Bandwidth caps and schedules as written in watchd.yaml and folder files."""

from __future__ import annotations

import pytest

from watchd.base.bandwidth_schedule import EVERY_DAY, PAUSED
from watchd.config.bandwidth_syntax import parse_bandwidth, parse_time_zone

MB = 1_000_000


def test_a_plain_rate_unlimited_and_pause_are_caps_for_the_whole_week():
    assert parse_bandwidth("40MB/s").constant_rate == 40 * MB
    assert parse_bandwidth("100Mbit/s").constant_rate == 12_500_000
    assert parse_bandwidth("unlimited").constant_rate is None
    assert parse_bandwidth(None).constant_rate is None
    assert parse_bandwidth("pause").constant_rate == PAUSED


def test_entries_read_as_days_time_and_cap():
    schedule = parse_bandwidth("Mon-Fri 07:00 20MB/s, Sat 9:30 5 MB/s, 22:00 unlimited, Sun pause")
    first, second, third, fourth = schedule.entries
    assert (first.days, first.minute, first.rate) == (frozenset(range(5)), 420, 20 * MB)
    assert (second.days, second.minute, second.rate) == (frozenset({5}), 570, 5 * MB)
    assert (third.days, third.minute, third.rate) == (EVERY_DAY, 1320, None)
    assert (fourth.days, fourth.minute, fourth.rate) == (frozenset({6}), 0, PAUSED)


def test_a_yaml_list_reads_like_the_comma_separated_string():
    text = parse_bandwidth("Mon-Fri 07:00 20MB/s, Sat-Sun pause")
    listed = parse_bandwidth(["Mon-Fri 07:00 20MB/s", "Sat-Sun pause"])
    assert listed.entries == text.entries


def test_day_ranges_wrap_and_full_names_and_any_case_are_understood():
    assert parse_bandwidth("Fri-Mon 08:00 1MB/s, Tue pause").entries[0].days == {4, 5, 6, 0}
    assert parse_bandwidth("saturday 08:00 1MB/s, MON pause").entries[0].days == {5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Mon-Fri 25:00 20MB/s, Sat pause",
            "entry 1 'Mon-Fri 25:00 20MB/s': '25:00' is not a time",
        ),
        (
            "Mon-Fri 07:00 20MB/s, Sat-Sum pause",
            "entry 2 'Sat-Sum pause': 'Sat-Sum' is not a range",
        ),
        ("Mon-Fri 07:00, Sat pause", "entry 1 'Mon-Fri 07:00': has no cap"),
        ("Mon 07:00 20MB/s, 5MB/s", "entry 2 '5MB/s': needs a day (Mon, Mon-Fri) or a time"),
        ("Mon 07:00 20, Sat pause", "entry 1 'Mon 07:00 20': '20' has no unit"),
        ("Mon 07:00 fast, Sat pause", "entry 1 'Mon 07:00 fast': 'fast' is not a transfer rate"),
        ("Mon 7.00 1MB/s, Sat pause", "entry 1 'Mon 7.00 1MB/s'"),
        (
            "Mon-Fri 07:00 1MB/s, Wed 07:00 2MB/s",
            "entries 'Mon-Fri 07:00 1MB/s' and 'Wed 07:00 2MB/s' both start on Wed at 07:00",
        ),
        ("Mon 07:00 1MB/s, , Sat pause", "entry 2 is empty"),
        ("fast", "'fast' is not a transfer rate"),
    ],
)
def test_a_bad_entry_is_named_with_what_to_write(text, message):
    with pytest.raises(ValueError) as raised:
        parse_bandwidth(text)
    assert message in str(raised.value)


def test_time_zones_are_iana_names_and_a_wrong_case_gets_a_suggestion():
    assert parse_time_zone("Europe/London") == "Europe/London"
    assert parse_time_zone(None) is None
    with pytest.raises(ValueError, match="did you mean Europe/London"):
        parse_time_zone("europe/london")
    with pytest.raises(ValueError, match="'Mars/Olympus' is not a known time zone"):
        parse_time_zone("Mars/Olympus")
