"""Where the password of a shared database comes from, never from the YAML.

Sources, in order: ``database_password_file`` (refused unless only its owner
may read it), else the systemd credential ``watchd-db-password``
(``LoadCredential=watchd-db-password:/etc/watchd/db_password`` puts it in
``$CREDENTIALS_DIRECTORY``), else none: libpq then looks in ~/.pgpass
(or ``$PGPASSFILE``) of the user watchd runs as. The file is read by the
store each time it opens a connection, so a new password needs no restart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from watchd.config.secrets import CREDENTIALS_ENV

if TYPE_CHECKING:  # (the schema is pydantic's: `watchd upload --email` does without it)
    from watchd.config.schema import Config

DB_PASSWORD_CREDENTIAL = "watchd-db-password"  # systemd: LoadCredential=watchd-db-password:FILE


def database_password_file(config: Config, environ: Mapping[str, str] | None = None) -> Path | None:
    """Return the file holding the database password, or None (SQLite, or libpq's own).

    ``environ`` defaults to ``os.environ``.
    """
    if config.database is None:
        return None
    if config.database_password_file is not None:
        return config.database_password_file
    directory = (os.environ if environ is None else environ).get(CREDENTIALS_ENV)
    if directory:
        credential = Path(directory) / DB_PASSWORD_CREDENTIAL
        if credential.is_file():
            return credential
    return None


def describe_password_source(config: Config, environ: Mapping[str, str] | None = None) -> str:
    """Return where the database password comes from, for messages (never the password)."""
    found = database_password_file(config, environ)
    if found is not None:
        return f"file {found}"
    return "~/.pgpass or $PGPASSFILE (libpq), if the server asks for one"
