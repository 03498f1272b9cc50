"""Fixtures every tier may use: a real PostgreSQL server (see tests/pg.py).

- ``pg_server`` (session): one server per pytest-xdist worker, started at first use.
- ``pg_url`` (function): a fresh, empty database on it; its SQLAlchemy URL.
- ``pg_db`` (function): a ``Database`` on a fresh database already at the newest schema.
- ``make_pg_server`` (function): ``make_pg_server()`` returns a started server of the
  test's own, which it may stop, start and restart; removed after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.pg import PgServer
from watchd.store.database import Database
from watchd.store.migrate import upgrade

HEAD_TEMPLATE = "watchd_head"  # a database at the newest schema, copied for each pg_db


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture(scope="session")
def _pg_head_template(pg_server: PgServer) -> str:
    pg_server.create_database(name=HEAD_TEMPLATE)
    database = Database(pg_server.url(HEAD_TEMPLATE))
    try:
        upgrade(database.engine)
    finally:
        database.close()  # a template must have no connections while it is copied
    return HEAD_TEMPLATE


@pytest.fixture
def pg_db(pg_server: PgServer, _pg_head_template: str) -> Iterator[Database]:
    name = pg_server.create_database(template=_pg_head_template)
    database = Database(pg_server.url(name))
    yield database
    database.close()
    pg_server.drop_database(name)


@pytest.fixture
def make_pg_server() -> Iterator[Callable[[], PgServer]]:
    servers: list[PgServer] = []

    def make() -> PgServer:
        server = PgServer()
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.destroy()
