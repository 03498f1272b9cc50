"""`watchd db check`, `watchd db recover`, and the other commands, on real damaged files."""

import json
from importlib.util import find_spec

import pytest
import yaml

from tests.integration.store.damage import (
    connected,
    corrupt_middle,
    fill_with_random_bytes,
    make_database,
    rows,
)
from watchd.cli.main import main
from watchd.daemon.runtime_files import DaemonLock
from watchd.store.migrate import head_revision


@pytest.fixture
def site(tmp_path):
    """A config file whose state folder is tmp_path/state; returns a runner of `watchd ...`."""
    key = tmp_path / "api_key"
    key.write_text("demo-api-key\n")
    key.chmod(0o600)
    state = tmp_path / "state"
    config = tmp_path / "watchd.yaml"

    def write(**extra):
        settings = {
            "flowcapture": {
                "url": "http://127.0.0.1:9",
                "email": "demo@example.com",
                "api_key_file": str(key),
            },
            "state_dir": str(state),
            "folders": [],
            **extra,
        }
        config.write_text(yaml.safe_dump(settings))

    write()

    def run(capsys, *args):
        code = main([*args, "--config", str(config)])
        out, err = capsys.readouterr()
        return code, out, err

    run.state = state  # type: ignore[attr-defined]
    run.database = state / "watchd.db"  # type: ignore[attr-defined]
    run.configure = write  # type: ignore[attr-defined]
    return run


def test_db_check_says_ok_for_a_sound_database(site, capsys):
    make_database(site.state, jobs=10)
    code, out, err = site(capsys, "db", "check")
    assert code == 0, err
    assert out.startswith(f"ok: {site.database} passed SQLite's integrity check; ")
    assert f"schema revision {head_revision()} (the newest this watchd knows)" in out


def test_db_check_lists_the_damage_and_the_next_step(site, capsys):
    make_database(site.state)
    corrupt_middle(site.database)
    code, out, err = site(capsys, "db", "check")
    assert code == 1
    assert out.startswith("damaged: ")
    (line,) = err.splitlines()
    assert line.startswith(f"watchd db check: the state database {site.database} is damaged (")
    assert "stop watchd, then run `watchd db recover`" in line and "backup" in line


def test_db_check_finds_damage_the_quick_check_would_miss(site, capsys):
    make_database(site.state, jobs=5)
    with connected(site.database) as conn:
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = replace(sql, 'inode, size', 'size, inode') "
            "WHERE name = 'ix_jobs_version_by_inode'"
        )
    code, out, _ = site(capsys, "db", "check")
    assert code == 1
    assert "damaged: row 1 missing from index ix_jobs_version_by_inode" in out


def test_db_check_of_a_file_of_random_bytes(site, capsys):
    site.state.mkdir()
    fill_with_random_bytes(site.database)
    code, out, err = site(capsys, "db", "check")
    assert code == 1
    assert out == "damaged: file is not a database\n"
    assert "Traceback" not in err and str(site.database) in err


def test_db_check_of_a_database_from_a_newer_watchd_says_to_upgrade_watchd(site, capsys):
    make_database(site.state, jobs=1)
    with connected(site.database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    code, out, err = site(capsys, "db", "check")
    assert code == 1
    assert "schema: schema revision ffff_from_the_future is not one this watchd knows" in out
    assert "upgrade watchd" in out and "cannot use its schema" in err


def test_db_check_before_the_first_start_is_fine(site, capsys):
    code, out, _ = site(capsys, "db", "check")
    assert code == 0
    assert out == f"no database at {site.database} yet: `watchd run` creates it\n"
    assert not site.state.exists()


def test_db_check_of_another_database_whose_driver_is_missing_is_one_line(site, capsys):
    assert find_spec("pg8000") is None, "this test needs a driver that is not installed"
    site.configure(database="postgresql+pg8000://watchd@127.0.0.1:9/watchd")
    code, _, err = site(capsys, "db", "check")
    assert code == 1
    (line,) = err.splitlines()
    assert "postgresql+pg8000://watchd@127.0.0.1:9/watchd is not installed" in line


def test_db_recover_leaves_a_sound_database_alone(site, capsys):
    make_database(site.state, jobs=10)
    before = site.database.read_bytes()
    code, out, _ = site(capsys, "db", "recover")
    assert code == 0
    assert "nothing to recover, nothing was changed" in out
    assert site.database.read_bytes() == before
    assert sorted(p.name for p in site.state.iterdir()) == ["watchd.db", "watchd.lock"]


def test_db_recover_moves_the_damage_aside_and_says_what_it_salvaged(site, capsys):
    make_database(site.state)
    corrupt_middle(site.database)
    damaged = site.database.read_bytes()

    code, out, err = site(capsys, "db", "recover")

    assert code == 0, err
    (aside,) = site.state.glob("watchd.db.damaged-*")
    assert aside.read_bytes() == damaged
    jobs = rows(site.database, "jobs")
    batches = rows(site.database, "batches")
    assert 0 < len(jobs) < 400
    assert f"moved the damaged database aside to {aside}\n" in out
    assert f"started a new database {site.database} at schema revision {head_revision()}" in out
    assert f"salvaged {len(jobs)} job(s) with their state, {len(batches)} batch(es)" in out
    assert "when watchd starts next, it rescans the drop folders" in out
    code, out, _ = site(capsys, "db", "check")
    assert code == 0 and out.startswith("ok: ")


def test_db_recover_refuses_while_a_daemon_runs(site, capsys):
    make_database(site.state, jobs=5)
    fill_with_random_bytes(site.database)
    daemon = DaemonLock(site.state)
    daemon.acquire()
    try:
        code, _, err = site(capsys, "db", "recover")
    finally:
        daemon.release()
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("watchd db recover: another watchd (pid ")
    assert "stop it first" in line
    assert list(site.state.glob("watchd.db.damaged-*")) == []


def one_damaged_line(site, err, command):
    (line,) = err.splitlines()
    name = " ".join(command[:2] if command[0] == "db" else command[:1])
    assert line.startswith(f"watchd {name}: the state database {site.database} is damaged (")
    assert "`watchd db recover`" in line


@pytest.mark.parametrize(
    "command",
    [
        ["jobs"],
        ["batches"],
        ["cancel", "3"],
        ["retry", "--failed"],
        ["db", "current"],
        ["db", "upgrade"],
    ],
)
def test_commands_on_a_file_of_random_bytes_give_one_line_naming_it(site, capsys, command):
    site.state.mkdir()
    fill_with_random_bytes(site.database)
    code, _, err = site(capsys, *command)
    assert code == 1
    one_damaged_line(site, err, command)


@pytest.mark.parametrize("command", [["jobs", "--limit", "100000"], ["db", "upgrade"]])
def test_commands_that_read_damaged_pages_give_one_line_naming_it(site, capsys, command):
    make_database(site.state)
    corrupt_middle(site.database)
    code, _, err = site(capsys, *command)
    assert code == 1
    one_damaged_line(site, err, command)


def test_status_shows_the_damage_in_its_report_and_exits_1(site, capsys):
    site.state.mkdir()
    fill_with_random_bytes(site.database)
    code, out, _ = site(capsys, "status")
    assert code == 1
    assert (
        f"Database: the state database {site.database} is damaged (file is not a database)" in out
    )
    assert "SELECT" not in out
    code, out, _ = site(capsys, "status", "--json")
    report = json.loads(out)
    assert code == 1
    assert report["database"].startswith(f"the state database {site.database} is damaged")


def test_jobs_of_a_folder_the_config_does_not_name_is_an_error_not_an_empty_list(
    site, capsys, tmp_path
):
    (tmp_path / "drop").mkdir()
    site.configure(folders=[{"name": "cart", "path": str(tmp_path / "drop"), "project_id": 7}])
    make_database(site.state, jobs=3)  # jobs of a folder "dailies", since taken out
    code, out, err = site(capsys, "jobs", "--folder", "crat")
    assert code == 1 and out == ""
    assert "no drop folder named 'crat' in the configuration (its folders: cart)" in err
    code, out, _ = site(capsys, "jobs", "--folder", "cart")
    assert code == 0 and out == "no jobs\n", "a folder of the config with no jobs yet"
    code, out, _ = site(capsys, "jobs", "--folder", "dailies")
    assert code == 0 and len(out.splitlines()) == 4, "a folder taken out still has its jobs"
