"""The real `watchd` process with a state folder or database it cannot use, and the way back.

Each failure must be one line naming the file at fault and what to do (on
stderr and in the log), never a traceback. CI runs as root, which chmod does
not stop: the folders are made unusable with a regular file in the way or a
read-only bind mount.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.e2e.harness import MIB, wait_until, watchd, write_file
from tests.integration.store.damage import (
    connected,
    corrupt_middle,
    fill_with_random_bytes,
    make_database,
    quick_check,
    rows,
)


class Machine:
    """A config file for `watchd` (no emulator: every failure here comes before the API)."""

    def __init__(self, root: Path):
        self.root = root
        self.state = root / "state"
        self.database = self.state / "watchd.db"
        self.log_file = root / "log" / "watchd.log"
        self.config = root / "watchd.yaml"
        key = root / "api_key"
        key.write_text("demo-api-key\n")
        key.chmod(0o600)
        self.settings = {
            "flowcapture": {
                "url": "http://127.0.0.1:9",
                "email": "demo@example.com",
                "api_key_file": str(key),
            },
            "state_dir": str(self.state),
            "log": {"file": str(self.log_file)},
            "folders": [],
        }
        self.write()

    def write(self) -> None:
        self.config.write_text(yaml.safe_dump(self.settings))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return watchd(*args, "--config", str(self.config))


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def assert_cannot_start(result: subprocess.CompletedProcess[str], machine: Machine) -> str:
    """Check `watchd run` failed with one clear line on stderr and in the log; return it."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("watchd: cannot start: ")]
    logged = machine.log_file.read_text()
    assert "Traceback" not in logged
    assert line.removeprefix("watchd: ") in logged
    return line.removeprefix("watchd: cannot start: ")


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Bind-mount ``path`` read-only onto itself (root only), so that root cannot write it."""
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    if subprocess.run(["mount", "--bind", str(path), str(path)], check=False).returncode:
        pytest.skip("bind mounts are not allowed here")
    try:
        remount = ["mount", "-o", "remount,ro,bind", str(path)]
        if subprocess.run(remount, check=False).returncode:
            pytest.skip("read-only remounts are not allowed here")
        yield
    finally:
        subprocess.run(["umount", str(path)], check=False)


# --- the state folder ---------------------------------------------------------------------


def test_run_with_a_state_folder_below_a_regular_file_names_it_in_one_line(machine):
    (machine.root / "plain").write_text("not a folder")
    machine.settings["state_dir"] = str(machine.root / "plain" / "state")
    machine.write()
    reason = assert_cannot_start(machine.run("run"), machine)
    assert reason == (
        f"the state folder {machine.root / 'plain' / 'state'} is not writable "
        f"({machine.root / 'plain'} is a file, not a folder); give the watchd user write "
        "access or set state_dir"
    )


def test_run_with_a_read_only_state_folder_says_so_in_one_line(machine):
    machine.state.mkdir()
    with read_only(machine.state):
        reason = assert_cannot_start(machine.run("run"), machine)
    assert reason == (
        f"the state folder {machine.state} is not writable (Read-only file system: "
        f"{machine.state / 'watchd.lock'}); give the watchd user write access or set state_dir"
    )


def test_run_when_the_database_cannot_be_opened_says_why(machine):
    machine.database.mkdir(parents=True)  # a folder where the file should be
    reason = assert_cannot_start(machine.run("run"), machine)
    assert reason.startswith(
        f"cannot open the state database {machine.database} (it is a folder, not a file); "
    )
    assert "read and write access" in reason
    status = machine.run("status")
    assert status.returncode == 1
    assert f"Database: cannot open the state database {machine.database}" in status.stdout


def test_run_with_a_read_only_database_file_says_so_before_any_work(machine):
    make_database(machine.state, jobs=5)
    with read_only(machine.database):
        reason = assert_cannot_start(machine.run("run"), machine)
    assert reason == (
        f"the state database {machine.database} is read-only (it is on a read-only file "
        f"system); give the watchd user write access to it and to its folder {machine.state}"
    )


# --- a damaged database -------------------------------------------------------------------


def test_a_file_of_random_bytes_is_one_line_from_run_status_and_jobs(machine):
    machine.state.mkdir()
    fill_with_random_bytes(machine.database)
    damaged = f"the state database {machine.database} is damaged (file is not a database); "
    advice = "run `watchd db check`, then `watchd db recover`"

    reason = assert_cannot_start(machine.run("run"), machine)
    assert reason.startswith(damaged) and advice in reason

    status = machine.run("status")
    assert status.returncode == 1
    assert f"Database: {damaged}{advice}" in status.stdout
    assert "SELECT" not in status.stdout and "Traceback" not in status.stderr

    for command in ("jobs", "batches"):
        listing = machine.run(command)
        assert listing.returncode == 1
        assert listing.stderr == f"watchd {command}: {damaged}{advice}" + (
            " (it moves the damaged file aside and starts a new one), or restore it from a backup\n"
        )

    check = machine.run("db", "check")
    assert check.returncode == 1
    assert check.stdout == "damaged: file is not a database\n"

    recovered = machine.run("db", "recover")
    assert recovered.returncode == 0, recovered.stderr
    assert "nothing could be read from the damaged file: the new database is empty" in (
        recovered.stdout
    )
    assert len(list(machine.state.glob("watchd.db.damaged-*"))) == 1
    assert machine.run("db", "check").returncode == 0


def add_filler(database: Path, count: int) -> None:
    """Add ``count`` done jobs of a retired folder after the real ones, to fill many pages.

    Then checkpoint: the daemon leaves its last writes in the -wal file.
    """
    with connected(database) as conn:
        (template,) = rows(database, "jobs")[:1]
        names = [name for name in template if name != "id"]
        insert = f"INSERT INTO jobs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        for number in range(count):
            filler = {
                **template,
                "folder": "retired",
                "path": f"/retired/{number}.mov",
                "relpath": f"{number}.mov",
                "inode": 10_000_000 + number,
                "uuid": str(uuid.uuid4()),
                "batch_id": None,
                "last_error": "old history " * 40,
            }
            conn.execute(insert, [filler[name] for name in names])
    with connected(database) as conn:  # into the main file, where the damage is done
        (busy, _, _) = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0


def test_a_damaged_database_is_refused_then_recovered_without_sending_done_files_again(site):
    drop = site.add_folder()
    for name in ("first.mov", "second.mov"):
        write_file(drop / name, MIB)
    site.start()
    wait_until(lambda: site.all_done(2), 60, "both files done")
    assert site.stop() == 0
    database = site.state / "watchd.db"
    before = {job["id"]: job for job in site.jobs()}
    add_filler(database, 600)
    corrupt_middle(database)  # the filler's pages; the real jobs live in the first ones
    assert quick_check(database) != ["ok"]
    config = str(site.config_path)

    refused = watchd("run", "--config", config)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"cannot start: the state database {database} is damaged (" in refused.stderr
    status = watchd("status", "--config", config)
    assert status.returncode == 1
    assert f"Database: the state database {database} is damaged (" in status.stdout
    listing = watchd("jobs", "--config", config, "--limit", "100000")
    assert listing.returncode == 1 and "Traceback" not in listing.stderr
    assert listing.stderr.startswith(f"watchd jobs: the state database {database} is damaged")
    check = watchd("db", "check", "--config", config)
    assert check.returncode == 1 and check.stdout.startswith("damaged: ")

    recovered = watchd("db", "recover", "--config", config)
    assert recovered.returncode == 0, recovered.stderr
    assert "moved the damaged database aside to " in recovered.stdout
    assert "salvaged " in recovered.stdout and "left behind: " in recovered.stdout
    salvaged = {job["id"]: job for job in site.jobs() if job["folder"] == "dailies"}
    assert {i: (j["uuid"], j["state"]) for i, j in salvaged.items()} == {
        i: (j["uuid"], "done") for i, j in before.items()
    }
    uploads_before = len(site.snapshot()["uploads"])

    site.start()
    write_file(drop / "third.mov", MIB)  # once it is done, the others were scanned too
    wait_until(
        lambda: any(j["relpath"] == "third.mov" and j["state"] == "done" for j in site.jobs()),
        60,
        "the new file done",
    )
    dailies = [job for job in site.jobs() if job["folder"] == "dailies"]
    assert sorted(job["relpath"] for job in dailies) == ["first.mov", "second.mov", "third.mov"]
    assert len(site.snapshot()["uploads"]) == uploads_before + 1  # only the new file went up
    assert not (site.state / "watchd.db.recovered").exists(), "the start took the recovery mark"
    assert "the state database is new: files already in Flow Capture" in site.log()


def test_recover_is_refused_while_the_daemon_runs(site):
    site.add_folder()
    site.start()
    wait_until(lambda: "running" in site.log(), 20, "the daemon running")
    assert site.process is not None
    result = watchd("db", "recover", "--config", str(site.config_path))
    assert result.returncode == 1
    assert result.stderr == (
        f"watchd db recover: another watchd (pid {site.process.pid}) is running with state "
        f"folder {site.state}; stop it first (`sudo systemctl stop watchd`), then run "
        "`watchd db recover` again\n"
    )
    assert list(site.state.glob("watchd.db.damaged-*")) == []
