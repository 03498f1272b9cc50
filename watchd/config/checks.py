"""Checks of the machine a valid config is used on: folders, state directory, API key.

These are not load errors: a drop folder on an unmounted share is a problem
``check-config`` reports, while the running daemon marks that folder unhealthy
and carries on with the others. Each check returns problems, never raises.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from watchd.config.folder_schema import FolderConfig
from watchd.config.problems import UNKNOWN_ORIGIN, KeyPath, Origin, Problem
from watchd.config.schema import Config
from watchd.config.secrets import ApiKeyError, read_api_key


def check_environment(config: Config, environ: Mapping[str, str] | None = None) -> list[Problem]:
    """Return every problem of ``config`` on this machine: folders, state, logs, API key."""
    problems = [p for folder in config.folders for p in check_folder(folder)]
    problems += check_state_dir(config)
    problems += check_log_file(config)
    problems += check_api_key(config, environ)
    return problems


def check_folder(folder: FolderConfig) -> list[Problem]:
    """Return problems with a drop folder's directory and its archive folder."""
    origin = folder.origin or UNKNOWN_ORIGIN
    message = folder_unusable(folder.path, write=folder.after_upload.action != "keep")
    problems = [origin.problem(("path",), message)] if message else []
    if folder.archive is not None:
        problems += _writable_dir(origin, ("after_upload", "move_to"), folder.archive, "archive")
    return problems


def folder_unusable(path: Path, *, write: bool = False) -> str | None:
    """Return why files cannot be taken from the drop folder ``path``, or None if they can.

    ``write``: files are also deleted or moved away, which needs write permission.
    """
    if not path.exists():
        return f"drop folder {path} does not exist (not created, or a share not mounted?)"
    if not path.is_dir():
        return f"drop folder {path} is not a directory"
    if not os.access(path, os.R_OK | os.X_OK):
        return f"drop folder {path} is not readable by this user"
    if write and not os.access(path, os.W_OK):
        return f"drop folder {path} is not writable, so files cannot be deleted or moved away"
    return None


SYSTEMD_WRITE_HINT = (
    "under systemd the disk is read-only for watchd except ReadWritePaths: "
    "sudo systemctl edit watchd, add [Service] ReadWritePaths={paths}, then restart"
)


def write_access_problem(folder: FolderConfig) -> str | None:
    """Return why the post-upload action cannot delete or move files, or None if it can.

    Only matters for ``delete`` and ``move_to``; the message says how to fix it
    under the hardened systemd unit.
    """
    if folder.after_upload.action == "keep" or not folder.path.is_dir():
        return None
    needed = [folder.path] + ([folder.archive] if folder.archive is not None else [])
    blocked = [p for p in needed if not os.access(_nearest_existing_or_self(p), os.W_OK)]
    if not blocked:
        return None
    listed = " ".join(str(p) for p in needed)
    return (
        f"cannot {folder.after_upload} here: no write access to "
        f"{', '.join(map(str, blocked))}; {SYSTEMD_WRITE_HINT.format(paths=listed)}"
    )


def _nearest_existing_or_self(path: Path) -> Path:
    return path if path.exists() else nearest_existing(path)


def check_state_dir(config: Config) -> list[Problem]:
    """Return problems with the state directory (unless a database URL replaces it)."""
    if config.database is not None:
        return []
    return _writable_dir(config.origin or UNKNOWN_ORIGIN, ("state_dir",), config.state_dir, "state")


def check_log_file(config: Config) -> list[Problem]:
    """Return problems with the log file's directory."""
    if config.log.file is None:
        return []
    origin = config.origin or UNKNOWN_ORIGIN
    return _writable_dir(origin, ("log", "file"), config.log.file.parent, "log")


def check_api_key(config: Config, environ: Mapping[str, str] | None = None) -> list[Problem]:
    """Return a problem if the API key cannot be read from its configured source."""
    try:
        read_api_key(config.flowcapture, environ)
    except ApiKeyError as exc:
        origin = config.origin or UNKNOWN_ORIGIN
        return [origin.problem(_key_source_path(config), str(exc))]
    return []


def _key_source_path(config: Config) -> KeyPath:
    if config.flowcapture.api_key_file is not None:
        return ("flowcapture", "api_key_file")
    if config.flowcapture.api_key_env is not None:
        return ("flowcapture", "api_key_env")
    return ("flowcapture",)


def _writable_dir(origin: Origin, key: KeyPath, path: Path, what: str) -> list[Problem]:
    """Return a problem unless ``path`` is a writable directory or can be created as one."""
    return [origin.problem(key, message) for message in _dir_problems(path, what)]


def _dir_problems(path: Path, what: str) -> Iterator[str]:
    if path.exists():
        if not path.is_dir():
            yield f"{what} directory {path} is not a directory"
        elif not os.access(path, os.W_OK | os.X_OK):
            yield f"{what} directory {path} is not writable by this user"
        return
    parent = nearest_existing(path)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        yield f"{what} directory {path} does not exist and cannot be created in {parent}"


def nearest_existing(path: Path) -> Path:
    """Return the closest of ``path``'s parents that exists (the root at worst)."""
    for candidate in path.parents:
        if candidate.exists():
            return candidate
    return Path(path.anchor or "/")
