"""One file cannot forge log lines: names are escaped, key=value fields quoted when needed."""

import logging
import os

import pytest

from watchd.daemon.logs import configure_logging


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "watchd.log"
    configure_logging("info", path, "text", stderr=True)
    yield path
    configure_logging("warning", None, "text", stderr=False)


def lines(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_a_newline_in_a_name_cannot_make_a_second_line(log_file):
    name = "/drop/x.mov\n2026-11-28 11:00:00,000 INFO watchd.ingest.jobs: done: file=/etc/passwd"
    logging.getLogger("watchd.test").info("queued: file=%s job=%d", name, 7)
    (line,) = lines(log_file)
    assert 'queued: file="/drop/x.mov\\n2026-11-28' in line
    assert line.endswith('file=/etc/passwd" job=7')


def test_names_are_quoted_only_when_they_need_it_and_other_args_are_left_alone(log_file):
    log = logging.getLogger("watchd.test")
    log.info("queued: file=%s batch=%r size=%d", "/drop/Day 01/A001.mov", "Day 01", 12)
    log.info("queued: file=%s batch=%r size=%d", "/drop/Day01/A001.mov", "Day01", 12)
    log.warning("will retry: file=%s: %s", "/drop/a.mov", "Connection reset by peer")
    first, second, third = lines(log_file)
    assert first.endswith("queued: file=\"/drop/Day 01/A001.mov\" batch='Day 01' size=12")
    assert second.endswith("queued: file=/drop/Day01/A001.mov batch='Day01' size=12")
    assert third.endswith("will retry: file=/drop/a.mov: Connection reset by peer")


def test_a_name_that_is_not_utf8_is_logged_escaped_not_as_a_logging_error(log_file, capsys):
    bad = os.fsdecode(b"/drop/bad\xff.mov")
    logging.getLogger("watchd.test").info("queued: file=%s", bad)
    (line,) = lines(log_file)
    assert line.endswith('queued: file="/drop/bad\\xff.mov"')
    assert "Logging error" not in capsys.readouterr().err


def test_escaping_happens_once_for_a_line_written_to_two_handlers(log_file, capsys):
    logging.getLogger("watchd.test").info("queued: file=%s", "a\tb.mov")
    (line,) = lines(log_file)
    assert line.endswith('queued: file="a\\tb.mov"')
    assert capsys.readouterr().err.rstrip().endswith('queued: file="a\\tb.mov"')
