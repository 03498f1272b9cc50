"""A folder named by its path, ``"Production/Folder/Sub"``: the schema's check and the
API commands' lookup split it the same way (kept apart from the schema: no pydantic)."""

from __future__ import annotations


def split_project_path(spec: str) -> list[str]:
    """Return the names in ``"Production/Folder/Sub"``; raises ValueError saying what is wrong."""
    parts = [part.strip() for part in spec.strip().strip("/").split("/")]
    if not any(parts):
        raise ValueError("must not be empty")
    if any(not part for part in parts):
        raise ValueError(f"{spec!r} has an empty folder name between slashes")
    if len(parts) < 2:
        raise ValueError(
            f"{spec!r} names a production, but uploads go into a folder: "
            f"write '{parts[0]}/FOLDER' (or project_id: ID)"
        )
    return parts
