"""A real PostgreSQL server for tests, from the Debian package's binaries.

``PgServer`` makes a cluster in a temporary folder (initdb), runs it on a free
port on 127.0.0.1 and a unix socket in that folder, and can be stopped,
started and restarted on the same port (for "the database went away" tests).
initdb refuses to run as root, so as root the server runs as the ``postgres``
user (which the Debian package creates) through ``runuser``; its folder sits
outside pytest's root-only temp folder so that user can enter it.

Local connections are trusted for the superuser ``postgres``; other roles log
in over TCP with a password (scram-sha-256), so a test can check password
handling. The fixtures in tests/conftest.py use this module.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

SUPERUSER = "postgres"
RUN_AS = "postgres"  # the unprivileged user a root test run starts the server as
START_TIMEOUT_S = 30  # pg_ctl waits this long for the server to accept connections
# Settings for a throwaway server: durability off (tests never survive a power cut)
# and few resources, so each worker's server starts in about a second.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "max_wal_size": "256MB",
    "log_min_messages": "warning",
}
HBA = """\
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""
INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) were not found; install Debian's "
    "`postgresql` package (scripts/test does) or put them on PATH"
)


class PgServerError(Exception):
    """The test server could not be set up or started; the message carries its log."""


def pg_bindir() -> Path:
    """Return the folder holding initdb and pg_ctl (the newest installed version).

    Raises PgServerError when PostgreSQL's server programs are not installed.
    """
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise PgServerError(INSTALL_HINT)
    return Path(candidates[-1]).parent


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One PostgreSQL cluster in its own temporary folder; ``start()`` before use."""

    _names = itertools.count(1)

    def __init__(self, prefix: str = "watchd-pg-") -> None:
        self.bindir = pg_bindir()
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root
        self.log_file = self.root / "server.log"
        self.port = free_port()
        self.host = "127.0.0.1"
        self._owner = _server_user()
        self._initialised = False
        if self._owner is not None:
            os.chown(self.root, self._owner.pw_uid, self._owner.pw_gid)
        self.root.chmod(0o755)

    # --- life cycle ---------------------------------------------------------------

    def start(self) -> None:
        """Initialise the cluster on first use, then start it; waits until it accepts."""
        if not self._initialised:
            self._initdb()
        options = " ".join(
            [f"-p {self.port}", f"-k {self.socket_dir}"]
            + [f"-c {key}={value}" for key, value in SERVER_SETTINGS.items()]
        )
        self._pg_ctl(
            "start", "-w", "-t", str(START_TIMEOUT_S), "-l", str(self.log_file), "-o", options
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back and disconnect clients; ``immediate``: crash)."""
        self._pg_ctl("stop", "-w", "-m", mode)

    def restart(self) -> None:
        """Stop and start again on the same port; clients must reconnect."""
        self.stop()
        self.start()

    def is_running(self) -> bool:
        """Return whether the server process is up (pg_ctl status)."""
        result = self._run([str(self.bindir / "pg_ctl"), "status", "-D", str(self.data_dir)])
        return result.returncode == 0

    def destroy(self) -> None:
        """Stop the server if it runs and delete its folder."""
        with contextlib.suppress(PgServerError):
            if self._initialised and self.is_running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # --- connecting ---------------------------------------------------------------

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        """Return the SQLAlchemy URL (psycopg 3, TCP, no password) of ``database``."""
        return f"postgresql+psycopg://{user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """Return an autocommit psycopg connection as the superuser (for set-up SQL)."""
        return psycopg.connect(
            host=self.host, port=self.port, user=SUPERUSER, dbname=database, autocommit=True
        )

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement as the superuser outside a transaction (CREATE DATABASE ...)."""
        with self.connect(database) as conn:
            conn.execute(sql.encode())

    def create_database(self, template: str = "template1", name: str | None = None) -> str:
        """Create a new, uniquely named database from ``template``; return its name."""
        name = name or f"test_{os.getpid()}_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whoever is still connected to it."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # --- internals ----------------------------------------------------------------

    def _initdb(self) -> None:
        self._run_checked(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
        )
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(HBA)
        if self._owner is not None:
            os.chown(hba, self._owner.pw_uid, self._owner.pw_gid)
        self._initialised = True

    def _pg_ctl(self, *args: str) -> None:
        self._run_checked([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), *args], "pg_ctl")

    def _run_checked(self, argv: list[str], what: str) -> None:
        result = self._run(argv)
        if result.returncode != 0:
            log = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise PgServerError(
                f"{what} failed (exit {result.returncode}): {result.stdout}{result.stderr}{log}"
            )

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        if self._owner is not None:
            argv = ["runuser", "-u", self._owner.pw_name, "--", *argv]
        return subprocess.run(
            argv, capture_output=True, text=True, check=False, cwd=self.root, timeout=120
        )


def _server_user() -> pwd.struct_passwd | None:
    """Return the user to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS)
    except KeyError:
        raise PgServerError(
            f"running as root, and there is no user {RUN_AS!r} to run PostgreSQL as "
            "(initdb refuses root); install Debian's `postgresql` package, which creates it"
        ) from None
