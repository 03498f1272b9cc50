"""Several `watchd run` nodes sharing one PostgreSQL database and one drop folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text

from tests.e2e.harness import Site
from watchd.emulator import Emulator


class NodeSite(Site):
    """One ingest node: its own state folder and log, the shared database and folders."""

    def __init__(self, root: Path, emulator: Emulator, database: str, name: str, lease: str):
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root, emulator)
        self.database = database
        self.name = name
        self.lease = lease
        self._engine = create_engine(database, pool_pre_ping=True)

    def share_folder(self, path: Path, name: str = "dailies", **settings: Any) -> Path:
        """Serve the shared drop folder at ``path`` (the same name and path on every node)."""
        path.mkdir(parents=True, exist_ok=True)
        folder = {
            "name": name,
            "path": str(path),
            "project": "Demo Production/Dailies",
            "settle": "1s",
            "batch": {"name": "{subdir}", "idle": "1s"},
            **settings,
        }
        self.folders.append(folder)
        return path

    def write_config(self) -> None:
        super().write_config()
        config = yaml.safe_load(self.config_path.read_text())
        config["database"] = self.database
        config["node"] = {"name": self.name, "lease": self.lease}
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of ``sql`` on the shared database ([] while it cannot be reached)."""
        try:
            with self._engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(text(sql), params)]
        except Exception:
            return []

    def jobs(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM jobs ORDER BY id")

    def committed_parts(self, job_id: int) -> list[int]:
        rows = self.query(
            "SELECT number FROM parts WHERE job_id = :job AND etag IS NOT NULL ORDER BY number",
            job=job_id,
        )
        return [r["number"] for r in rows]

    def close(self) -> None:
        self.kill()
        self._engine.dispose()
