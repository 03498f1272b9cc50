import pytest

from watchd.config.units import (
    format_duration,
    format_rate,
    format_size,
    parse_duration,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10),
        ("5m", 300),
        ("500ms", 0.5),
        ("1h", 3600),
        ("1h30m", 5400),
        (10, 10),
        (2.5, 2.5),
        ("10", 10),
        ("1.5h", 5400),
        ("1d", 86400),
    ],
)
def test_durations_read_as_people_write_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["10x", "", "s", "-5s", -1, True, [1], "1h 30", "inf"])
def test_a_bad_duration_says_what_to_write(bad):
    with pytest.raises(ValueError, match=r"not a duration; use e\.g\. 10s, 5m"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("text", "size"),
    [("16MiB", 16 * 1024**2), ("5MB", 5_000_000), ("1GiB", 1024**3), (1024, 1024), ("2KiB", 2048)],
)
def test_sizes_read_in_decimal_and_binary_units(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["16Mb", "16 mega", "lots", True, -1])
def test_a_bad_size_is_refused(bad):
    with pytest.raises(ValueError, match="size"):
        parse_size(bad)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("40MB/s", 40_000_000),
        ("100Mbit/s", 12_500_000),
        ("10Mbps", 1_250_000),
        ("unlimited", None),
        (None, None),
        ("1MiB/s", 1024**2),
        ("40MB", 40_000_000),
    ],
)
def test_rates_accept_bytes_bits_and_unlimited(text, rate):
    assert parse_rate(text) == rate


def test_a_rate_in_lowercase_b_is_ambiguous():
    with pytest.raises(ValueError, match="ambiguous; write MB/s for bytes or Mbit/s for bits"):
        parse_rate("10Mb/s")


def test_a_zero_rate_points_to_unlimited():
    with pytest.raises(ValueError, match="unlimited"):
        parse_rate(0)


def test_values_are_formatted_back_the_way_they_are_written():
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.5) == "500ms"
    assert format_size(16 * 1024**2) == "16MiB"
    assert format_rate(40_000_000) == "40MB/s"
    assert format_rate(None) == "unlimited"


@pytest.mark.parametrize(
    ("bare", "shown"), [(40, "40"), (2.5, "2.5"), ("40", "'40'"), ("40/s", "'40/s'")]
)
def test_a_rate_without_a_unit_is_refused_with_what_to_write(bare, shown):
    with pytest.raises(ValueError) as caught:
        parse_rate(bare)
    assert str(caught.value) == f"{shown} has no unit; write e.g. 40MB/s, 5MiB/s or unlimited"


@pytest.mark.parametrize("slow", ["10KB/s", "500kbit/s", "65535B/s", "0.06MiB/s"])
def test_a_rate_below_64_kib_per_second_is_refused(slow):
    with pytest.raises(ValueError) as caught:
        parse_rate(slow)
    assert str(caught.value) == (
        f"{slow} is below the lowest cap of 64 KiB/s; write 64KiB/s or more, or unlimited"
    )


def test_the_lowest_rate_cap_is_64_kib_per_second():
    assert parse_rate("64KiB/s") == 64 * 1024
    assert parse_rate("1Mbit/s") == 125_000
