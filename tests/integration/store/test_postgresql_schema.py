"""The schema on PostgreSQL: every revision from empty to head, and upgrades while other
nodes run (one upgrades under the advisory lock, the others wait; a newer schema is refused)."""

from __future__ import annotations

import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from watchd.store.database import Database
from watchd.store.migrate import (
    SCHEMA_LOCK_KEY,
    SchemaError,
    current_revision,
    head_revision,
    known_revisions,
    upgrade,
)
from watchd.store.models import Base


@pytest.fixture
def database(pg_url: str):
    db = Database(pg_url)
    yield db
    db.close()


def test_migrations_build_on_postgresql_exactly_the_schema_the_models_describe(database):
    assert upgrade(database.engine) == head_revision()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) | {"alembic_version"} == tables


def test_each_revision_applies_in_turn_on_postgresql_with_rows_in_place(database):
    upgrade(database.engine, "0001")
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (folder, path, relpath, filename, device, inode, size, "
                "mtime_ns, state, attempts, last_error, uuid, project_id, created_at, "
                "updated_at) VALUES ('f', '/d/a.mov', 'a.mov', 'a.mov', 1, 2, 3, 4, "
                "'cancelled', 0, 'cancelled by an operator', 'u-1', 9, now(), now())"
            )
        )
    for revision in sorted(known_revisions()):
        upgrade(database.engine, revision)
        assert current_revision(database.engine) == revision
    with database.engine.connect() as conn:
        cancelled = conn.execute(text("SELECT operator_cancelled_at FROM jobs")).scalar_one()
    assert cancelled is not None  # 0002's data step ran on PostgreSQL too


def test_upgrading_twice_on_postgresql_changes_nothing(database):
    first = upgrade(database.engine)
    second = upgrade(database.engine)
    assert first == second == head_revision() == current_revision(database.engine)


def test_a_node_with_an_older_watchd_refuses_a_newer_shared_schema(database, pg_url):
    upgrade(database.engine)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    with pytest.raises(SchemaError) as raised:
        upgrade(database.engine)
    message = str(raised.value)
    assert "ffff_from_the_future" in message
    assert "Another node runs a newer watchd" in message
    assert pg_url.split("@")[1] in message
    assert current_revision(database.engine) == "ffff_from_the_future"


def test_a_node_waits_while_another_holds_the_schema_lock(database, pg_url):
    holder = create_engine(pg_url)
    results: list[str] = []
    try:
        with holder.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEMA_LOCK_KEY})
            waiter = threading.Thread(target=lambda: results.append(upgrade(database.engine)))
            waiter.start()
            time.sleep(0.5)
            assert waiter.is_alive()  # waiting on the lock, not upgrading
            assert current_revision(database.engine) is None
        waiter.join(timeout=30)  # the holder's transaction ended: the lock is free
        assert not waiter.is_alive()
    finally:
        holder.dispose()
    assert results == [head_revision()]


def test_nodes_starting_together_upgrade_an_empty_database_once(database, pg_url):
    others = [Database(pg_url) for _ in range(3)]
    outcomes: list[object] = []

    def start(db: Database) -> None:
        try:
            outcomes.append(upgrade(db.engine))
        except Exception as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in [database, *others]]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for db in others:
            db.close()
    assert outcomes == [head_revision()] * 4
    assert current_revision(database.engine) == head_revision()
