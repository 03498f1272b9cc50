import json
import logging

from watchd.daemon import health
from watchd.daemon.health import HealthBoard, disk_problem, status_line
from watchd.daemon.logs import configure_logging
from watchd.flowcapture.redact import register_secret


def test_json_lines_carry_time_level_logger_and_message_without_secrets(tmp_path):
    log_file = tmp_path / "watchd.log"
    register_secret("key-that-must-not-leak")
    configure_logging("info", log_file, "json", stderr=False)
    try:
        logging.getLogger("watchd.test").info(
            "uploaded: file=%s key=%s", "/drop/a.mov", "key-that-must-not-leak"
        )
    finally:
        configure_logging("warning", None, "text", stderr=False)
    (line,) = log_file.read_text().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "info"
    assert entry["logger"] == "watchd.test"
    assert entry["message"].startswith("uploaded: file=/drop/a.mov")
    assert "key-that-must-not-leak" not in line
    assert entry["time"].endswith("+00:00")


def test_a_problem_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    caplog.set_level(logging.INFO)
    board = HealthBoard()
    board.set("disk", "only 10 MiB free")
    board.set("disk", "only 10 MiB free")
    board.set("disk", None)
    board.set("disk", None)
    messages = [r.getMessage() for r in caplog.records if r.name == "watchd.daemon.health"]
    assert messages == [
        "health problem: disk: only 10 MiB free",
        "health problem over: disk (was: only 10 MiB free)",
    ]


def test_a_nearly_full_disk_is_a_problem(tmp_path, monkeypatch):
    assert disk_problem(tmp_path) is None
    monkeypatch.setattr(health, "LOW_DISK_BYTES", 1 << 62)
    problem = disk_problem(tmp_path)
    assert problem is not None and "MiB free" in problem


def test_the_status_line_reads_like_the_design_and_names_a_problem():
    counts = {"uploading": 2, "queued": 10, "waiting": 4, "failed": 0}
    assert status_line(3, counts, {}) == "3 folders, 2 uploading, 14 queued, 0 failed"
    line = status_line(1, {}, {"disk": "full", "database": "locked"})
    assert line == "1 folder, 0 uploading, 0 queued, 0 failed; PROBLEM disk: full (+1 more)"
