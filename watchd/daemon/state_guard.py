"""Noticing that the state database was deleted or replaced under a running daemon.

A daemon keeps writing to a SQLite file that was deleted (the open file
lives on, unlinked), so every record of what was uploaded would be lost and
the next start would upload everything again. The file's identity (device
and inode) is checked at each status write; when it is gone or another file
took its place, the daemon stops with a clear error instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url


class DatabaseGuard:
    """Remembers which file the SQLite database is and says when that changed."""

    def __init__(self, url: str):
        parsed = make_url(url)
        sqlite = parsed.drivername.startswith("sqlite") and parsed.database
        self.path = Path(parsed.database) if sqlite and parsed.database else None
        self._identity = self._current()

    def _current(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def remember(self) -> None:
        """Take the file as it is now as the database (after start-up created it)."""
        self._identity = self._current()

    def problem(self) -> str | None:
        """Return why the daemon must stop (the file was deleted or replaced), or None."""
        if self.path is None or self._identity is None:
            return None
        current = self._current()
        if current == self._identity:
            return None
        what = "deleted" if current is None else "replaced by another file"
        return (
            f"the state database {self.path} was {what} while watchd ran; stopping so that "
            "nothing is uploaded twice. Restore it, or start watchd again: with a new "
            "database it does not upload again what Flow Capture already has"
        )
