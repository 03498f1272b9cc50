"""Who exists in the emulated service and what they may see: users,
productions (API "groups"), folders (API "projects") and permissions."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

ACCESS_VIEW = "view"
ACCESS_UPLOAD = "upload"  # upload implies view
ACCESS_LEVELS = (ACCESS_VIEW, ACCESS_UPLOAD)


@dataclass(frozen=True)
class User:
    """An API user; ``api_key`` is a secret and never leaves the emulator.

    ``project_id`` is the folder of a key tied to one (as an immediates connection
    is): /authenticate/api answers it, and uploads that name no folder go there.
    """

    email: str
    api_key: str
    first_name: str
    last_name: str
    project_id: int | None = None


@dataclass(frozen=True)
class Production:
    """A production (an API "group")."""

    id: int
    name: str


@dataclass(frozen=True)
class Folder:
    """A folder (an API "project"); ``path`` is "Production/Folder/Sub"."""

    id: int
    name: str
    production_id: int
    parent_id: int | None
    path: str


@dataclass(frozen=True)
class Grant:
    """Access to a whole production (folder_id None) or a folder and its subfolders."""

    production_id: int
    folder_id: int | None
    access: str
    non_watermarked: bool = False


@dataclass
class World:
    """The fixed world an emulator serves. Emails are matched case-insensitively."""

    users: dict[str, User] = field(default_factory=dict)
    productions: dict[int, Production] = field(default_factory=dict)
    folders: dict[int, Folder] = field(default_factory=dict)
    grants: dict[str, list[Grant]] = field(default_factory=dict)

    def authenticate(self, email: str, api_key: str) -> User | None:
        """Return the user whose email and API key match, else None."""
        user = self.users.get(email.strip().lower())
        if user is None:
            return None
        if not hmac.compare_digest(user.api_key.encode(), api_key.encode()):
            return None
        return user

    def user(self, email: str) -> User | None:
        """Return the user with this email, if any."""
        return self.users.get(email.lower())

    def _covers(self, grant: Grant, folder: Folder) -> bool:
        if grant.production_id != folder.production_id:
            return False
        if grant.folder_id is None:
            return True
        current: Folder | None = folder
        while current is not None:
            if current.id == grant.folder_id:
                return True
            current = self.folders.get(current.parent_id) if current.parent_id else None
        return False

    def _grants_on(self, email: str, folder_id: int) -> list[Grant]:
        folder = self.folders.get(folder_id)
        if folder is None:
            return []
        return [g for g in self.grants.get(email.lower(), []) if self._covers(g, folder)]

    def can_view(self, email: str, folder_id: int) -> bool:
        """Return True if the user may see the folder and its assets."""
        return bool(self._grants_on(email, folder_id))

    def can_upload(self, email: str, folder_id: int) -> bool:
        """Return True if the user may upload into the folder."""
        return any(g.access == ACCESS_UPLOAD for g in self._grants_on(email, folder_id))

    def can_download_non_watermarked(self, email: str, folder_id: int) -> bool:
        """Return True if the user may download non-watermarked files from the folder."""
        return any(g.non_watermarked for g in self._grants_on(email, folder_id))

    def visible_folders(self, email: str, production_id: int | None = None) -> list[Folder]:
        """Return the folders the user may see, in id order."""
        return [
            f
            for f in sorted(self.folders.values(), key=lambda f: f.id)
            if (production_id is None or f.production_id == production_id)
            and self.can_view(email, f.id)
        ]

    def visible_productions(self, email: str) -> list[Production]:
        """Return the productions in which the user may see at least one folder."""
        granted = {g.production_id for g in self.grants.get(email.lower(), [])}
        return [p for p in sorted(self.productions.values(), key=lambda p: p.id) if p.id in granted]


def demo_world() -> World:
    """Return the built-in demo world (``demo_world.yaml`` in this package)."""
    from watchd.emulator.world_yaml import load_demo_world  # noqa: PLC0415 - avoids a cycle

    return load_demo_world()
