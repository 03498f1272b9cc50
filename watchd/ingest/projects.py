"""Finding a Flow Capture folder ("project") from a path of names.

``project: "Show Name/Dailies/Day 01"`` names a production ("group") and then
folders nested through ``parent_project_id``. Names are matched exactly; an
unknown name is an error listing what exists at that level, and a name shared
by two siblings is an error listing the candidates' ids, since only
``project_id:`` can tell them apart. A production alone is refused: uploads go
into folders. A drop folder naming neither goes to the folder the API key is
tied to (an immediates connection), which authentication answers.
"""

from __future__ import annotations

import difflib
import json
import logging
from pathlib import Path
from typing import Any, Protocol

from watchd.config import project_path
from watchd.flowcapture.errors import FlowCaptureError
from watchd.flowcapture.models import Folder, Production

log = logging.getLogger(__name__)

MAX_LISTED_NAMES = 20  # longer listings are cut in messages
KEY_FOLDER_CACHE_ENTRY = "(the API key's folder)"  # projects.json entry of a folder naming none


class ProjectSource(Protocol):
    """What resolution needs of the API client (FlowCaptureClient fits)."""

    def get_groups(self) -> list[Production]: ...

    def get_projects(self, group_id: int | None = None) -> list[Folder]: ...

    def key_folder(self) -> int | None: ...


class ProjectResolutionError(Exception):
    """A project name or id does not lead to exactly one visible folder."""


def split_project_path(spec: str) -> list[str]:
    """Return the names in ``"Production/Folder/Sub"``; raises ProjectResolutionError."""
    try:
        return project_path.split_project_path(spec)
    except ValueError as exc:
        raise ProjectResolutionError(str(exc)) from None


def resolve_project(client: ProjectSource, spec: str) -> int:
    """Return the id of the folder ``spec`` ("Production/Folder/Sub") names.

    Raises ProjectResolutionError when it names none or several.
    """
    return ProjectDirectory(client).resolve(spec)


class ProjectDirectory:
    """The productions and folders one user can see, each listing fetched once."""

    def __init__(self, client: ProjectSource):
        self._client = client
        self._groups: list[Production] | None = None
        self._folders: dict[int | None, list[Folder]] = {}

    def groups(self) -> list[Production]:
        """Return the productions this user can see."""
        if self._groups is None:
            self._groups = self._client.get_groups()
        return self._groups

    def folders(self, group_id: int | None = None) -> list[Folder]:
        """Return the folders of one production (or all, for None) this user can see."""
        if group_id not in self._folders:
            found = self._client.get_projects(group_id)
            if group_id is not None:  # keep to the production even if the server did not
                found = [f for f in found if f.group_id in (None, group_id)]
            self._folders[group_id] = found
        return self._folders[group_id]

    def resolve(self, spec: str) -> int:
        """Return the folder id ``spec`` names; raises ProjectResolutionError."""
        production_name, *folder_names = split_project_path(spec)
        productions = [g for g in self.groups() if g.name == production_name]
        if not productions:
            names = [g.name for g in self.groups()]
            raise ProjectResolutionError(
                f"no production {production_name!r} visible to this user"
                f"{_suggest(production_name, names)}; productions: {_listing(names)}"
            )
        if len(productions) > 1:
            raise ProjectResolutionError(self._ambiguous_production(spec, productions))
        folder_id = self._walk(productions[0], folder_names)
        log.debug("project %r is folder %d", spec, folder_id)
        return folder_id

    def check_id(self, project_id: int) -> int:
        """Return ``project_id`` if this user can see that folder; raises ProjectResolutionError."""
        if any(f.id == project_id for f in self.folders(None)):
            return project_id
        raise ProjectResolutionError(
            f"no folder with id {project_id} is visible to this user; folders: "
            f"{_listing([f'{path} ({fid})' for fid, path in self.folder_paths().items()])}"
        )

    def folder_paths(self) -> dict[int, str]:
        """Return every visible folder's id and full name ("Production/Folder/Sub")."""
        by_id = {f.id: f for f in self.folders(None)}
        groups = {g.id: g.name for g in self.groups()}
        paths = {}
        for folder in by_id.values():
            names: list[str] = []
            current: Folder | None = folder
            hops = 0
            while current is not None and hops < len(by_id):
                names.append(current.name)
                current = by_id.get(current.parent_project_id or 0)
                hops += 1
            production = groups.get(folder.group_id or 0, "?")
            paths[folder.id] = "/".join([production, *reversed(names)])
        return paths

    def _walk(self, production: Production, names: list[str]) -> int:
        folders = self.folders(production.id)
        parent: int | None = None
        where = production.name
        for name in names:
            siblings = [f for f in folders if (f.parent_project_id or None) == parent]
            matches = [f for f in siblings if f.name == name]
            if not matches:
                existing = [f.name for f in siblings]
                there = f"folders there: {_listing(existing)}" if existing else "it has no folders"
                raise ProjectResolutionError(
                    f"no folder {name!r} in {where!r}{_suggest(name, existing)}; {there}"
                )
            if len(matches) > 1:
                ids = ", ".join(str(f.id) for f in matches)
                raise ProjectResolutionError(
                    f"'{where}/{name}' is ambiguous: {len(matches)} folders have that name "
                    f"(ids {ids}); set project_id: to the one you mean"
                )
            parent, where = matches[0].id, f"{where}/{name}"
        assert parent is not None  # split_project_path guarantees at least one folder name
        return parent

    def _ambiguous_production(self, spec: str, productions: list[Production]) -> str:
        candidates = []
        for production in productions:
            try:
                folder_id = self._walk(production, split_project_path(spec)[1:])
            except ProjectResolutionError:
                candidates.append(f"production id {production.id} (no such folder)")
            else:
                candidates.append(f"project_id {folder_id} (in production id {production.id})")
        return (
            f"{len(productions)} productions are called {productions[0].name!r}: "
            f"{'; '.join(candidates)}; set project_id: to the folder you mean"
        )


def _suggest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _listing(names: list[str]) -> str:
    if not names:
        return "none"
    shown = sorted(names)[:MAX_LISTED_NAMES]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


def key_folder(client: ProjectSource) -> int:
    """Return the folder the API key is tied to (an immediates connection), as
    authentication answered it.

    Raises ProjectResolutionError when the key is tied to none, FlowCaptureError
    when the service cannot be asked.
    """
    project_id = client.key_folder()
    if project_id is None:
        raise ProjectResolutionError(
            f"no project: or project_id: is set, and the API key{_of_user(client)} is not tied "
            "to a folder (Flow Capture's authentication named none); set project: "
            "'Production/Folder' or project_id:"
        )
    return project_id


def _of_user(client: ProjectSource) -> str:
    email = getattr(client, "email", None)
    return f" of {email}" if email else ""


class ProjectResolver:
    """Resolves drop folders' ``project:`` names to ids, remembering them on disk.

    Resolved ids are cached in ``cache_path`` (``state_dir/projects.json``), so a
    start without network can still upload to folders it resolved before.
    """

    def __init__(self, client: ProjectSource, cache_path: Path):
        self.client = client
        self.cache_path = cache_path

    def resolve(self, project: str | None, project_id: int | None) -> int:
        """Return the folder id: ``project_id``, the folder ``project`` names, or with
        neither the folder the API key is tied to.

        Raises ProjectResolutionError, or FlowCaptureError if the service cannot be
        asked and no cached id is known.
        """
        if project_id is not None:
            return project_id
        spec = project if project is not None else KEY_FOLDER_CACHE_ENTRY
        try:
            resolved = (
                ProjectDirectory(self.client).resolve(project)
                if project is not None
                else key_folder(self.client)
            )
        except FlowCaptureError as exc:
            cached = self._cached().get(spec)
            if not exc.retryable or cached is None:
                raise
            log.warning("using cached project id %s for %r (%s)", cached, spec, exc)
            return int(cached)
        self._store(spec, resolved)
        return resolved

    def _cached(self) -> dict[str, Any]:
        try:
            data = json.loads(self.cache_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _store(self, spec: str, project_id: int) -> None:
        cache = self._cached()
        if cache.get(spec) == project_id:
            return
        cache[spec] = project_id
        temp = self.cache_path.with_suffix(".tmp")
        try:
            temp.write_text(json.dumps(cache, indent=1))
            temp.replace(self.cache_path)
        except OSError as exc:
            log.warning("cannot remember project ids in %s: %s", self.cache_path, exc.strerror)
