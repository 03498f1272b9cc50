"""What a database error means to a user: one line naming the file and what to do."""

import sqlite3
from importlib.util import find_spec
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from watchd.daemon.runtime_files import state_folder_error
from watchd.store.database import (
    DatabaseDamaged,
    DatabaseProblem,
    database_problem,
    make_engine,
    sqlite_path,
)
from watchd.store.migrate import head_revision, problem_lines, schema_problems
from watchd.store.models import Base


def sqlite_error(kind: type[sqlite3.Error], message: str, name: str | None) -> sqlite3.Error:
    error = kind(message)
    if name is not None:
        error.sqlite_errorname = name
    return error


def wrapped(error: sqlite3.Error) -> OperationalError:
    return OperationalError("SELECT jobs.id FROM jobs WHERE ...", {}, error)


URL = "sqlite:////srv/state/watchd.db"


def cannot_open() -> sqlite3.Error:
    return sqlite_error(sqlite3.OperationalError, "unable to open database file", "SQLITE_CANTOPEN")


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("file is not a database", "SQLITE_NOTADB"),
        ("database disk image is malformed", "SQLITE_CORRUPT"),
        ("database disk image is malformed", None),  # a driver that gives no error name
        ("file is not a database", None),
    ],
)
def test_a_damaged_file_is_named_with_the_commands_that_repair_it(message, name):
    problem = database_problem(wrapped(sqlite_error(sqlite3.DatabaseError, message, name)), URL)
    assert isinstance(problem, DatabaseDamaged)
    text = str(problem)
    assert text.startswith(f"the state database /srv/state/watchd.db is damaged ({message}); ")
    assert "`watchd db check`" in text and "`watchd db recover`" in text and "backup" in text
    assert "\n" not in text and "SELECT" not in text


def test_a_file_sqlite_cannot_open_says_why_when_the_filesystem_tells(tmp_path):
    folder_in_place = tmp_path / "watchd.db"
    folder_in_place.mkdir()
    error = sqlite_error(
        sqlite3.OperationalError, "unable to open database file", "SQLITE_CANTOPEN"
    )
    text = str(database_problem(error, f"sqlite:///{folder_in_place}"))
    assert text.startswith(
        f"cannot open the state database {folder_in_place} (it is a folder, not a file); "
    )
    assert "read and write access" in text and "state_dir" in text


def test_a_database_below_a_regular_file_names_that_file(tmp_path):
    (tmp_path / "plain").write_text("")
    path = tmp_path / "plain" / "state" / "watchd.db"
    error = sqlite_error(
        sqlite3.OperationalError, "unable to open database file", "SQLITE_CANTOPEN"
    )
    text = str(database_problem(error, f"sqlite:///{path}"))
    assert f"({tmp_path / 'plain'} is a file, not a folder)" in text


@pytest.mark.parametrize(
    ("message", "name", "says"),
    [
        ("attempt to write a readonly database", "SQLITE_READONLY", "is read-only"),
        ("database or disk is full", "SQLITE_FULL", "is full"),
        ("disk I/O error", "SQLITE_IOERR", "check the disk"),
        ("database is locked", "SQLITE_BUSY", "locked by another process"),
        ("something new", "SQLITE_SOMETHING", "could not be used (something new)"),
    ],
)
def test_other_sqlite_failures_are_one_line_naming_the_file(message, name, says):
    problem = database_problem(sqlite_error(sqlite3.OperationalError, message, name), URL)
    assert type(problem) is DatabaseProblem
    assert "/srv/state/watchd.db" in str(problem) and says in str(problem)
    assert "\n" not in str(problem)


def test_a_problem_already_translated_is_kept():
    problem = DatabaseProblem("the state database x is fine really")
    assert database_problem(problem, URL) is problem


def test_another_database_is_named_without_its_password():
    error = OperationalError("SELECT 1", {}, Exception("connection refused\nDETAIL: more"))
    text = str(database_problem(error, "postgresql://watchd:secret@db.example.com/watchd"))
    assert "secret" not in text and "db.example.com/watchd" in text
    assert "(connection refused)" in text


def test_a_missing_database_driver_is_one_line_not_an_import_error():
    assert find_spec("pg8000") is None  # a PostgreSQL driver watchd does not install
    with pytest.raises(DatabaseProblem, match=r"driver for the database .* is not installed"):
        make_engine("postgresql+pg8000://watchd@db.example.com/watchd")


def test_only_sqlite_files_have_a_path():
    assert sqlite_path("sqlite:////srv/state/watchd.db") == Path("/srv/state/watchd.db")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql://watchd@db.example.com/watchd") is None


def test_check_output_is_split_into_problems_without_headings():
    assert problem_lines(["ok"]) == []
    rows = ["*** in database main ***\nPage 12: btreeInitPage() returns error code 11", "row 3 x"]
    assert problem_lines(rows) == ["Page 12: btreeInitPage() returns error code 11", "row 3 x"]


def present_tables() -> dict[str, set[str]]:
    tables = {name: {c.name for c in table.columns} for name, table in Base.metadata.tables.items()}
    return {**tables, "alembic_version": {"version_num"}}


def test_the_schema_at_this_watchds_revision_has_no_problems():
    assert schema_problems(head_revision(), present_tables()) == []
    assert schema_problems(None, {}) == []  # a new, empty database


def test_a_newer_revision_and_missing_columns_are_schema_problems():
    (newer,) = schema_problems("ffff_from_the_future", present_tables())
    assert "newer watchd" in newer and "upgrade watchd" in newer
    tables = present_tables()
    tables["jobs"].discard("uuid")
    del tables["parts"]
    assert schema_problems(head_revision(), tables) == [
        "table parts is missing",
        "table jobs has no column uuid",
    ]
    assert schema_problems(None, tables) == [
        "watchd's tables are there but no schema revision is recorded"
    ]


def test_a_state_folder_below_a_regular_file_names_that_file(tmp_path):
    (tmp_path / "plain").write_text("")
    state = tmp_path / "plain" / "state"
    error = NotADirectoryError(20, "Not a directory", str(state))
    text = str(state_folder_error(state, error))
    assert text == (
        f"the state folder {state} is not writable ({tmp_path / 'plain'} is a file, not a "
        "folder); give the watchd user write access or set state_dir"
    )


def test_a_lock_file_that_cannot_be_written_is_named(tmp_path):
    lock = tmp_path / "watchd.lock"
    text = str(state_folder_error(tmp_path, PermissionError(13, "Permission denied", str(lock))))
    assert f"(Permission denied: {lock})" in text
    text = str(state_folder_error(tmp_path, OSError(30, "Read-only file system", str(tmp_path))))
    assert "is not writable (Read-only file system); give the watchd user write access" in text
