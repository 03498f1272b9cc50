"""A reader that stops early (`watchd jobs | head`, quitting `less`) ends a command quietly.

The real `watchd` process writes into a real pipe whose reading end is closed:
no traceback, no BrokenPipeError, exit status 141 as for a program ended by SIGPIPE.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from watchd.store.database import Database
from watchd.store.models import Job, JobState

EXIT_OUTPUT_CLOSED = 141
JOBS = 3000  # about 250 KB of listing: far more than a pipe holds (64 KiB on Linux)


def add_jobs(db: Database, count: int) -> None:
    now = datetime.now(UTC)
    with db.transaction() as session:
        for number in range(count):
            name = f"A{number:04d}_{'C' * 40}.mov"
            session.add(
                Job(
                    folder="dailies",
                    path=f"/drop/dailies/{name}",
                    relpath=name,
                    filename=name,
                    device=1,
                    inode=number,
                    size=1000,
                    mtime_ns=number,
                    state=JobState.QUEUED,
                    attempts=0,
                    uuid=str(uuid.uuid4()),
                    project_id=1,
                    created_at=now,
                    updated_at=now,
                )
            )


def watchd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "watchd", *args]


def assert_quiet(stderr: bytes) -> None:
    text = stderr.decode(errors="replace")
    assert "Traceback" not in text, text
    assert "BrokenPipeError" not in text, text


def test_jobs_piped_into_head_ends_quietly(db, tmp_path: Path):
    add_jobs(db, JOBS)
    config = tmp_path / "watchd.yaml"
    config.write_text(f"flowcapture: {{email: ingest@example.com}}\nstate_dir: {tmp_path}\n")
    command = watchd_command("jobs", "--config", str(config), "--limit", str(JOBS))
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # what `head -1` does once it has its line
        _, stderr = proc.communicate(timeout=60)
    assert first.split() == [b"JOB", b"STATE", b"SIZE", b"BATCH", b"FILE"]
    assert_quiet(stderr)
    assert proc.returncode == EXIT_OUTPUT_CLOSED


def test_output_to_a_reader_already_gone_ends_quietly():
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: every write fails with EPIPE
    try:
        done = subprocess.run(
            watchd_command("sample-config"),
            stdout=write_end,
            stderr=subprocess.PIPE,
            check=False,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert_quiet(done.stderr)
    assert done.returncode == EXIT_OUTPUT_CLOSED
