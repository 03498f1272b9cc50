import sqlite3
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from watchd.store.database import Database, sqlite_url
from watchd.store.migrate import (
    HEAD_REVISION,
    SchemaError,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from watchd.store.models import Base


@pytest.fixture
def database(tmp_path):
    db = Database(sqlite_url(tmp_path))
    yield db
    db.close()


def test_migrations_build_exactly_the_schema_the_models_describe(database):
    upgrade(database.engine)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    tables = set(inspect(database.engine).get_table_names())
    assert {"jobs", "parts", "batches", "alembic_version"} <= tables


def test_upgrading_twice_changes_nothing(database):
    first = upgrade(database.engine)
    second = upgrade(database.engine)
    assert first == second == head_revision() == current_revision(database.engine)


def test_the_head_revision_constant_is_alembics_head():
    # A new revision in migrations/versions must move HEAD_REVISION with it, or
    # databases would stop one revision short.
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


def test_an_older_database_is_upgraded_to_the_head(database):
    upgrade(database.engine, "0003")
    assert current_revision(database.engine) == "0003"
    assert upgrade(database.engine) == HEAD_REVISION == current_revision(database.engine)
    with database.engine.connect() as connection:
        columns = {c["name"] for c in inspect(connection).get_columns("jobs")}
    assert {"waiting_on", "lease_node"} <= columns  # 0003 and 0006 ran


def test_a_database_at_the_head_is_opened_without_loading_alembic(database, tmp_path):
    upgrade(database.engine)
    database.close()
    script = (
        "import sys; from watchd.store.database import Database, sqlite_url; "
        "from watchd.store.migrate import upgrade; from pathlib import Path; "
        f"db = Database(sqlite_url(Path({str(tmp_path)!r}))); print(upgrade(db.engine)); "
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [HEAD_REVISION, "False"]


def test_a_database_from_a_newer_watchd_is_refused_and_left_alone(database, tmp_path):
    upgrade(database.engine)
    database.close()
    path = tmp_path / "watchd.db"
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    before = path.read_bytes()

    newer = Database(sqlite_url(tmp_path))
    try:
        with pytest.raises(SchemaError, match="newer watchd"):
            upgrade(newer.engine)
    finally:
        newer.close()
    with sqlite3.connect(path) as raw:
        (version,) = raw.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version == "ffff_from_the_future"
    assert path.read_bytes() == before


def test_the_database_runs_in_wal_mode(database):
    upgrade(database.engine)
    with database.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
