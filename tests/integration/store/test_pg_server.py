"""The PostgreSQL test server itself: fresh databases per test, a server that restarts."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text

from tests.pg import PgServer
from watchd.store.database import Database
from watchd.store.migrate import current_revision, head_revision


def test_pg_url_is_a_fresh_empty_database_of_its_own(pg_url: str, pg_server: PgServer):
    engine = create_engine(pg_url)
    try:
        with engine.begin() as conn:
            assert inspect(conn).get_table_names() == []
            conn.execute(text("CREATE TABLE scratch (id int)"))
            name = conn.execute(text("SELECT current_database()")).scalar_one()
            version = conn.execute(text("SHOW server_version_num")).scalar_one()
    finally:
        engine.dispose()
    assert name.startswith("test_")
    assert int(version) >= 150000
    assert pg_url == pg_server.url(name)


def test_pg_db_is_at_the_newest_schema(pg_db: Database):
    assert pg_db.engine.dialect.name == "postgresql"
    assert current_revision(pg_db.engine) == head_revision()


def test_an_own_server_restarts_on_the_same_port_and_clients_reconnect(make_pg_server):
    server = make_pg_server()
    name = server.create_database()
    engine = create_engine(server.url(name), pool_pre_ping=True)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (id int)"))
            conn.execute(text("INSERT INTO kept VALUES (7)"))
        port = server.port
        server.stop()
        assert not server.is_running()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host=server.host, port=port, user="postgres", dbname=name)
        server.start()
        assert server.port == port
        with engine.begin() as conn:  # the pooled connection died; pre-ping replaces it
            assert conn.execute(text("SELECT id FROM kept")).scalar_one() == 7
    finally:
        engine.dispose()
