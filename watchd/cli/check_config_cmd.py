"""`watchd check-config`: report every problem of a config at once, or say it is fine.

Checks the YAML against the schema, then this machine (drop folders, state
and log directories, the API key source) and, with ``--online``, Flow Capture
itself (the credentials, and each folder's project). Exit status 0 when all
is well, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from watchd.cli.database_check import check_database
from watchd.config import FolderConfig
from watchd.config.checks import nearest_existing
from watchd.config.loader import check_config
from watchd.config.problems import UNKNOWN_ORIGIN, Problem
from watchd.config.schema import Config
from watchd.config.secrets import ApiKeyError, describe_source, read_api_key
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import AuthenticationError, FlowCaptureError
from watchd.ingest.projects import ProjectDirectory, ProjectResolutionError, key_folder
from watchd.watch.mounts import network_mount_note

CONFIG_ENV = "WATCHD_CONFIG"
DEFAULT_CONFIG = Path("/etc/watchd/watchd.yaml")
ONLINE_RETRIES = 1  # a person is waiting: one more try of a failed call, not the daemon's patience

ClientFactory = Callable[[str, str, str], FlowCaptureClient]


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Return ``$WATCHD_CONFIG`` if set, else ``/etc/watchd/watchd.yaml``."""
    env = os.environ if environ is None else environ
    return Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else DEFAULT_CONFIG


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check-config",
        help="check the configuration and report every problem",
        description="Check watchd.yaml and its drop folders: keys, types and values, the "
        "folders and directories on this machine, and the API key source. With --online, "
        "also log in to Flow Capture and find each folder's project.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"config file (default: ${CONFIG_ENV} or {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--online", action="store_true", help="also check the credentials and projects"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print every problem (exit 1) or one OK line (exit 0); return the exit status."""
    path: Path = args.config or default_config_path()
    # Problems of the files and of this machine together: an overlap between two
    # folders must not hide that a third one is missing.
    config, problems = check_config(path)
    if config is None:
        return _report(problems)
    resolved: dict[str, int] = {}
    database = ""
    if args.online:
        database_problems, database = check_database(config)
        problems += database_problems
    if args.online and not any(p.key.startswith("flowcapture") for p in problems):
        online_problems, resolved = check_online(config)
        problems += online_problems
    if problems:
        return _report(problems)
    if database:
        print(database)
    for note in custody_notes(config) + archive_notes(config) + mount_notes(config):
        print(f"note: {note}")
    names = ", ".join(_outcome(f, resolved, args.online) for f in config.folders)
    count = len(config.folders)
    print(f"OK: {count} folder{'' if count == 1 else 's'}" + (f" ({names})" if names else ""))
    return 0


def custody_notes(config: Config) -> list[str]:
    """Combinations that are valid but keep files a user may expect to go (exit stays 0).

    With ``verify: off`` a folder that moves or deletes after upload keeps every file
    that has an ASC MHL offload history (nothing is wiped after a size-only check).
    """
    return [
        f"folder {folder.name}: verify: off with after_upload {folder.after_upload.action}: "
        "files that have an ASC MHL offload history stay in the drop folder; set "
        "allow_unverified_delete: true to move or delete them anyway"
        for folder in config.folders
        if folder.verify == "off"
        and folder.after_upload.action != "keep"
        and not folder.allow_unverified_delete
    ]


def archive_notes(config: Config) -> list[str]:
    """Archive folders that do not exist yet: fine (watchd makes them), unless a typo."""
    return [
        f"folder {folder.name}: after_upload.move_to {folder.archive} does not exist yet; "
        f"watchd will create it in {nearest_existing(folder.archive)} at the first move"
        for folder in config.folders
        if folder.archive is not None and not folder.archive.exists()
    ]


def mount_notes(config: Config) -> list[str]:
    """Folders on network mounts that do not poll: other machines' files wait for a rescan."""
    notes = (network_mount_note(f.name, f.path, f.poll) for f in config.folders)
    return [note for note in notes if note is not None]


def _outcome(folder: FolderConfig, resolved: dict[str, int], online: bool) -> str:
    if folder.name in resolved:
        tied = " (the API key's folder)" if folder.key_folder else ""
        return f"{folder.name} -> project {resolved[folder.name]}{tied}"
    if folder.key_folder and not online:
        return (
            f"{folder.name} -> the API key's folder (no project: set; only --online can tell "
            "whether the key is tied to one)"
        )
    return folder.name


def _report(problems: list[Problem]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    count = len(problems)
    print(f"{count} problem{'' if count == 1 else 's'} found", file=sys.stderr)
    return 1


def _make_client(email: str, api_key: str, url: str) -> FlowCaptureClient:
    return FlowCaptureClient(email, api_key, url, retries=ONLINE_RETRIES)


def check_online(
    config: Config,
    environ: Mapping[str, str] | None = None,
    make_client: ClientFactory = _make_client,
) -> tuple[list[Problem], dict[str, int]]:
    """Log in and find every folder's project; return (problems, folder name -> project id)."""
    origin = config.origin or UNKNOWN_ORIGIN
    settings = config.flowcapture
    try:
        api_key = read_api_key(settings, environ)
    except ApiKeyError as exc:
        return [origin.problem(("flowcapture",), str(exc))], {}
    with make_client(settings.email, api_key, settings.url) as client:
        try:
            client.authenticate()
        except AuthenticationError:
            source = describe_source(settings, environ)
            message = f"Flow Capture refused the API key for {settings.email} (from {source})"
            return [origin.problem(("flowcapture", "email"), message)], {}
        except FlowCaptureError as exc:
            message = f"cannot reach Flow Capture at {settings.url}: {exc}"
            return [origin.problem(("flowcapture", "url"), message)], {}
        return _resolve_all(config, ProjectDirectory(client), client)


def _resolve_all(
    config: Config, directory: ProjectDirectory, client: FlowCaptureClient
) -> tuple[list[Problem], dict[str, int]]:
    problems: list[Problem] = []
    resolved: dict[str, int] = {}
    for folder in config.folders:
        origin = folder.origin or UNKNOWN_ORIGIN
        key = "project_id" if folder.project_id is not None else "project"
        try:
            if folder.project is not None:
                resolved[folder.name] = directory.resolve(folder.project)
            elif folder.project_id is not None:
                resolved[folder.name] = directory.check_id(folder.project_id)
            else:
                resolved[folder.name] = key_folder(client)
        except ProjectResolutionError as exc:
            problems.append(origin.problem((key,), str(exc)))
        except FlowCaptureError as exc:
            problems.append(origin.problem((key,), f"cannot list Flow Capture folders: {exc}"))
    return problems, resolved
