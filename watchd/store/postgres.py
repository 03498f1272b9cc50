"""PostgreSQL (psycopg 3) as the shared state database of several nodes.

The engine gets a pool sized for the daemon's threads, checks a pooled
connection before use (a restarted server or a dropped connection is replaced,
not handed to a worker), and gives up connecting after a timeout instead of
hanging a thread. The password is never part of the URL: it is read from a
file (``database_password_file`` or the systemd credential) each time a
connection is opened, else libpq finds it in ~/.pgpass. What goes wrong is
one line that names the server and database, never the password.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError

from watchd.base.secret_files import SecretFileProblem, read_secret_file

# Writers take turns on row locks, and each transaction is short (a part's ETag, a
# move of a job), so a few connections serve tens of worker threads; the overflow
# covers bursts. Several nodes share the server's max_connections (100 by default).
POOL_SIZE = 5  # connections kept open per process
POOL_OVERFLOW = 15  # more opened under load, closed when returned
POOL_TIMEOUT_SECONDS = 30  # a thread waits this long for a free connection
POOL_RECYCLE_SECONDS = 1800  # reopen older connections (firewalls drop idle ones)
CONNECT_TIMEOUT_SECONDS = 10  # libpq's connect_timeout: an unreachable server fails, not hangs
APPLICATION_NAME = "watchd"  # shown in pg_stat_activity
MAX_PASSWORD_BYTES = 1024  # a password file bigger than this is the wrong file


REFUSED_LOGIN = (  # libpq's words for a login the server refused
    "authentication failed",
    "no password supplied",
    "pg_hba.conf",
    "password authentication",
    'role "',  # role "x" does not exist
)


class PasswordFileError(SQLAlchemyError):
    """The password file could not be read; the message names it (never its content).

    An SQLAlchemyError, as it is raised where a connection is opened: code that
    handles database errors there handles this one too.
    """


def make_postgres_engine(url: str | URL, password_file: Path | None) -> Engine:
    """Return a pooled engine for the PostgreSQL ``url`` (which holds no password).

    ``password_file``, when given, is read for each new connection; see
    ``read_password_file`` for what it raises then.
    """
    engine = create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": APPLICATION_NAME,
        },
    )
    if password_file is not None:

        def add_password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
            cparams["password"] = read_password_file(
                password_file, check_mode=not _is_credential(password_file)
            )

        event.listen(engine, "do_connect", add_password)
    return engine


def read_password_file(path: Path, *, check_mode: bool = True) -> str:
    """Return the password in ``path`` (surrounding whitespace removed).

    ``check_mode`` refuses a file that group or others may read (systemd
    credentials are exempt: systemd protects them). Raises PasswordFileError.
    """
    what = f"the database password file {path}"
    try:
        raw = read_secret_file(path, limit=MAX_PASSWORD_BYTES, check_mode=check_mode)
    except OSError as exc:
        raise PasswordFileError(f"cannot read {what} ({exc.strerror})") from None
    except SecretFileProblem as problem:
        raise PasswordFileError(f"{what} {problem}") from None
    try:
        password = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PasswordFileError(f"{what} is not UTF-8 text") from None
    if not password or "\n" in password:
        raise PasswordFileError(f"{what} must hold the password alone, on one line")
    return password


def _is_credential(path: Path) -> bool:
    """Return whether ``path`` is a systemd credential (systemd guards those, not its mode)."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    return directory is not None and path.parent == Path(directory)


def problem_message(url: str | URL, detail: str, sqlstate: str | None) -> str:
    """Return the one line for PostgreSQL error ``detail`` met using ``url``."""
    parsed = make_url(url)
    where = parsed.render_as_string(hide_password=True)
    lowered = detail.lower()
    if sqlstate in ("28P01", "28000") or any(sign in lowered for sign in REFUSED_LOGIN):
        return (
            f"the database server refused user {parsed.username or '(default)'} of {where} "
            f"({detail}); check the password (database_password_file, the systemd credential "
            "watchd-db-password or ~/.pgpass) and the server's pg_hba.conf"
        )
    if sqlstate == "3D000" or ('database "' in lowered and "does not exist" in lowered):
        return (
            f"the database {where} does not exist ({detail}); create it on the server, "
            f"e.g. createdb -O {parsed.username or 'watchd'} {parsed.database or 'watchd'}"
        )
    if _unreachable(lowered):
        return (
            f"cannot reach the database server of {where} ({detail}); check that PostgreSQL "
            "runs there and accepts connections from this machine"
        )
    return (
        f"the database {where} could not be used ({detail}); check that it is reachable "
        "and that the watchd user may use it"
    )


def _unreachable(lowered: str) -> bool:
    signs = (
        "connection refused",
        "could not connect",
        "timeout expired",
        "could not translate host name",
        "name or service not known",
        "no route to host",
        "network is unreachable",
        "server closed the connection",
        "connection failed",
        "terminating connection",
        "the database system is",  # starting up / shutting down / in recovery
    )
    return any(sign in lowered for sign in signs)
