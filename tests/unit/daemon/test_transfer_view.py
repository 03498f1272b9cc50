from watchd.daemon.transfer_view import duration_text, eta_seconds, transfer_line


def transfer(done: int, total: int, rate: float) -> dict[str, float]:
    return {"bytes_done": done, "bytes_total": total, "rate_bytes_per_second": rate}


def test_eta_is_what_is_left_at_the_current_rate():
    assert eta_seconds(transfer(40_000_000, 100_000_000, 2_000_000)) == 30


def test_no_eta_without_a_rate():
    assert eta_seconds(transfer(0, 100, 0)) is None
    assert transfer_line(transfer(0, 100, 0)).endswith("ETA -")


def test_the_line_shows_percent_rate_and_eta():
    line = transfer_line(transfer(42_000_000, 100_000_000, 12_300_000))
    assert line.split() == ["42.0%", "12.3", "MB/s", "ETA", "5s"], "58 MB left at 12.3 MB/s"


def test_durations_read_like_clocks():
    assert duration_text(59.4) == "59s"
    assert duration_text(185) == "3m05s"
    assert duration_text(7800) == "2h10m"
