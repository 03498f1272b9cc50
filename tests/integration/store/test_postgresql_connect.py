"""Connecting to PostgreSQL: the password from a file, and one clear line when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tests.pg import PgServer, free_port
from watchd.store.database import Database, DatabaseProblem, database_problem
from watchd.store.migrate import upgrade
from watchd.store.postgres import POOL_SIZE

PASSWORD = "s3cret-Pa55word"


@pytest.fixture
def role_db(pg_server: PgServer, pg_url: str) -> str:
    """A database owned by the role ingest, which logs in with PASSWORD; returns its name."""
    name = pg_url.rsplit("/", 1)[1]
    pg_server.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ingest') THEN "
        f"CREATE ROLE ingest LOGIN PASSWORD '{PASSWORD}'; END IF; END $$"
    )
    pg_server.execute(f'ALTER DATABASE "{name}" OWNER TO ingest')
    return name


def password_file(tmp_path: Path, content: str, mode: int = 0o600) -> Path:
    path = tmp_path / "db_password"
    path.write_text(content + "\n")
    path.chmod(mode)
    return path


def problem_of(url: str, password: Path | None = None) -> str:
    db = Database(url, password_file=password)
    try:
        with pytest.raises(SQLAlchemyError) as raised:
            upgrade(db.engine)
    finally:
        db.close()
    problem = database_problem(raised.value, url)
    assert isinstance(problem, DatabaseProblem)
    message = str(problem)
    assert "\n" not in message
    assert PASSWORD not in message
    return message


def test_the_password_is_read_from_its_file_and_the_schema_upgraded(pg_server, role_db, tmp_path):
    url = pg_server.url(role_db, user="ingest")
    db = Database(url, password_file=password_file(tmp_path, PASSWORD))
    try:
        upgrade(db.engine)
        with db.reading() as session:
            user = session.execute(text("SELECT current_user")).scalar_one()
        assert user == "ingest"
        assert db.engine.pool.size() == POOL_SIZE  # type: ignore[attr-defined]
        assert PASSWORD not in repr(db.engine.url) + str(db.engine.url) + db.url
    finally:
        db.close()


def test_a_wrong_password_is_a_refused_login_naming_user_and_server(pg_server, role_db, tmp_path):
    url = pg_server.url(role_db, user="ingest")
    message = problem_of(url, password_file(tmp_path, "not-it"))
    assert message.startswith("the database server refused user ingest of ")
    assert f"127.0.0.1:{pg_server.port}/{role_db}" in message
    assert "password authentication failed" in message
    assert "watchd-db-password" in message


def test_no_password_at_all_is_a_refused_login(pg_server, role_db):
    message = problem_of(pg_server.url(role_db, user="ingest"))
    assert message.startswith("the database server refused user ingest")


def test_a_password_file_others_may_read_is_refused_without_showing_it(
    pg_server, role_db, tmp_path
):
    path = password_file(tmp_path, PASSWORD, mode=0o644)
    message = problem_of(pg_server.url(role_db, user="ingest"), path)
    assert message == (
        f"the database password file {path} is readable by others (mode 0644); "
        f"run: chmod 600 {path}"
    )


def test_a_missing_password_file_is_named(pg_server, role_db, tmp_path):
    message = problem_of(pg_server.url(role_db, user="ingest"), tmp_path / "nope")
    assert (
        message
        == f"cannot read the database password file {tmp_path / 'nope'} (No such file or directory)"
    )


def test_a_missing_database_says_to_create_it(pg_server):
    message = problem_of(pg_server.url("no_such_db"))
    assert message.startswith(f"the database {pg_server.url('no_such_db')} does not exist (")
    assert "createdb -O postgres no_such_db" in message


def test_an_unreachable_server_is_one_line_naming_it():
    url = f"postgresql+psycopg://ingest@127.0.0.1:{free_port()}/watchd"
    message = problem_of(url)
    assert message.startswith(f"cannot reach the database server of {url} (")
    assert "accepts connections from this machine" in message
