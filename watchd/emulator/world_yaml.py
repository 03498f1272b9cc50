"""Load a :class:`World` from YAML; every error names the file and the key path.

Ids are generated in document order (productions from 100, folders from 1000,
depth first) unless given explicitly with ``id:``. A user with ``project:
"Production/Folder"`` has a key tied to that folder (an immediates connection):
it may upload there, and uploads that name no folder go there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from watchd.emulator.world import (
    ACCESS_LEVELS,
    ACCESS_UPLOAD,
    Folder,
    Grant,
    Production,
    User,
    World,
)

FIRST_PRODUCTION_ID = 100
FIRST_FOLDER_ID = 1000
DEMO_WORLD_RESOURCE = "demo_world.yaml"


class WorldError(ValueError):
    """The world file is unreadable or invalid."""


def load_world(path: Path | str) -> World:
    """Return the world described by the YAML file at ``path``.

    Raises:
        WorldError: naming the file and key when it cannot be read or is invalid.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorldError(f"{path}: cannot read world file: {exc.strerror}") from None
    return parse_world(text, str(path))


def load_demo_world() -> World:
    """Return the built-in demo world."""
    text = resources.files("watchd.emulator").joinpath(DEMO_WORLD_RESOURCE).read_text("utf-8")
    return parse_world(text, DEMO_WORLD_RESOURCE)


def parse_world(text: str, source: str) -> World:
    """Return the world described by YAML ``text``; ``source`` names it in errors."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorldError(f"{source}: invalid YAML: {exc}") from None
    return _Builder(source).build(doc)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.world = World()
        self._prod_ids: Iterator[int] = iter(())
        self._folder_ids: Iterator[int] = iter(())

    def fail(self, key: str, problem: str) -> WorldError:
        return WorldError(f"{self.source}: {key}: {problem}")

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, "must be a mapping")
        return value

    def sequence(self, value: Any, key: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "must be a list")
        return value

    def text(self, item: dict[str, Any], name: str, key: str) -> str:
        value = item.get(name)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key}.{name}", "required, must be a non-empty string")
        return value.strip()

    def build(self, doc: Any) -> World:
        doc = self.mapping(doc if doc is not None else {}, "(top level)")
        unknown = set(doc) - {"users", "productions", "permissions"}
        if unknown:
            raise self.fail(sorted(unknown)[0], "unknown key")
        users = [
            self.mapping(item, f"users[{i}]")
            for i, item in enumerate(self.sequence(doc.get("users"), "users"))
        ]
        for i, item in enumerate(users):
            self.add_user(item, f"users[{i}]")
        self.assign_ids(self.sequence(doc.get("productions"), "productions"))
        for i, item in enumerate(users):  # a user's folder is known once the folders are
            if item.get("project") is not None:
                self.tie_to_folder(item, f"users[{i}]")
        grants = doc.get("permissions")
        for email, items in self.mapping(
            grants if grants is not None else {}, "permissions"
        ).items():
            self.add_grants(str(email), self.sequence(items, f"permissions.{email}"))
        return self.world

    def add_user(self, item: dict[str, Any], key: str) -> None:
        email = self.text(item, "email", key).lower()
        if email in self.world.users:
            raise self.fail(f"{key}.email", f"duplicate user {email}")
        self.world.users[email] = User(
            email=email,
            api_key=self.text(item, "api_key", key),
            first_name=str(item.get("first_name", "")),
            last_name=str(item.get("last_name", "")),
        )

    def tie_to_folder(self, item: dict[str, Any], key: str) -> None:
        """Give the user ``project: "Production/Folder"``, with upload rights there."""
        path = self.text(item, "project", key).strip("/")
        folder = next((f for f in self.world.folders.values() if f.path == path), None)
        if folder is None:
            raise self.fail(f"{key}.project", f"no folder {path!r} (use 'Production/Folder/...')")
        email = self.text(item, "email", key).lower()
        user = self.world.users[email]
        self.world.users[email] = dataclasses.replace(user, project_id=folder.id)
        grant = Grant(folder.production_id, folder.id, ACCESS_UPLOAD)
        self.world.grants.setdefault(email, []).append(grant)

    def assign_ids(self, productions: list[Any]) -> None:
        explicit = set(self.explicit_ids(productions, "productions"))
        self._prod_ids = (i for i in range(FIRST_PRODUCTION_ID, 10**9) if i not in explicit)
        self._folder_ids = (i for i in range(FIRST_FOLDER_ID, 10**9) if i not in explicit)
        for i, entry in enumerate(productions):
            key = f"productions[{i}]"
            item = self.mapping(entry, key)
            name = self.text(item, "name", key)
            if any(p.name == name for p in self.world.productions.values()):
                raise self.fail(f"{key}.name", f"duplicate production {name!r}")
            pid = self.id_of(item, key, self._prod_ids)
            self.world.productions[pid] = Production(id=pid, name=name)
            self.add_folders(item.get("folders"), f"{key}.folders", pid, None, name)

    def explicit_ids(self, items: list[Any], key: str) -> Iterator[int]:
        for i, item in enumerate(items):
            if isinstance(item, dict):
                if "id" in item:
                    yield self.int_id(item["id"], f"{key}[{i}].id")
                sub = f"{key}[{i}].folders"
                yield from self.explicit_ids(self.sequence(item.get("folders"), sub), sub)

    def int_id(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(key, "must be a positive integer")
        return value

    def id_of(self, item: dict[str, Any], key: str, generated: Iterator[int]) -> int:
        ident = self.int_id(item["id"], f"{key}.id") if "id" in item else next(generated)
        if ident in self.world.productions or ident in self.world.folders:
            raise self.fail(f"{key}.id", f"duplicate id {ident}")
        return ident

    def add_folders(
        self, items: Any, key: str, production_id: int, parent_id: int | None, parent_path: str
    ) -> None:
        for i, entry in enumerate(self.sequence(items, key)):
            item_key = f"{key}[{i}]"
            item = self.mapping(entry, item_key)
            name = self.text(item, "name", item_key)
            path = f"{parent_path}/{name}"
            if any(f.path == path for f in self.world.folders.values()):
                raise self.fail(f"{item_key}.name", f"duplicate folder {path!r}")
            fid = self.id_of(item, item_key, self._folder_ids)
            self.world.folders[fid] = Folder(fid, name, production_id, parent_id, path)
            self.add_folders(item.get("folders"), f"{item_key}.folders", production_id, fid, path)

    def add_grants(self, email: str, items: list[Any]) -> None:
        email = email.lower()
        if email not in self.world.users:
            raise self.fail(f"permissions.{email}", "no such user")
        for i, item in enumerate(items):
            key = f"permissions.{email}[{i}]"
            self.world.grants.setdefault(email, []).append(self.grant(self.mapping(item, key), key))

    def grant(self, item: dict[str, Any], key: str) -> Grant:
        access = item.get("access", "view")
        if access not in ACCESS_LEVELS:
            raise self.fail(f"{key}.access", f"must be one of {', '.join(ACCESS_LEVELS)}")
        nwm = bool(item.get("non_watermarked", False))
        if ("production" in item) == ("folder" in item):
            raise self.fail(key, "needs exactly one of 'production' or 'folder'")
        if "production" in item:
            name = self.text(item, "production", key)
            prod = next((p for p in self.world.productions.values() if p.name == name), None)
            if prod is None:
                raise self.fail(f"{key}.production", f"no production named {name!r}")
            return Grant(prod.id, None, access, nwm)
        path = self.text(item, "folder", key).strip("/")
        folder = next((f for f in self.world.folders.values() if f.path == path), None)
        if folder is None:
            raise self.fail(f"{key}.folder", f"no folder {path!r} (use 'Production/Folder/...')")
        return Grant(folder.production_id, folder.id, access, nwm)
