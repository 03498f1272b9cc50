import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from watchd.store.database import Database, sqlite_url
from watchd.store.migrate import SchemaError, current_revision, head_revision, upgrade
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
