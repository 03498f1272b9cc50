"""What the API commands share: credentials, resolving folders and assets, clean failures.

Credentials come from the daemon's config (``--config``, ``$WATCHD_CONFIG``,
/etc/watchd/watchd.yaml) or from ``--email`` plus ``$WATCHD_API_KEY``. Every
failure becomes one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchd.cli.config_path import add_config_argument, config_for_operator
from watchd.config.problems import ConfigError
from watchd.config.secrets import ApiKeyError, read_api_key
from watchd.flowcapture import wire
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import FlowCaptureError
from watchd.flowcapture.models import Asset
from watchd.ingest.projects import ProjectDirectory, ProjectResolutionError

API_KEY_ENV = "WATCHD_API_KEY"
EXIT_FAILED = 1
EXIT_USAGE = 2

Command = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A failure to report as one line (the message says what and how to fix it)."""


def add_api_arguments(
    parser: argparse.ArgumentParser, *, json_output: bool = True
) -> list[argparse.Action]:
    """Add --config, --email, --url (and --json) to an API command; return them."""
    added = [
        add_config_argument(parser),
        parser.add_argument("--email", help=f"act as this user, with the key in ${API_KEY_ENV}"),
        parser.add_argument(
            "--url", help=f"Flow Capture API URL (default: config, or {wire.DEFAULT_BASE_URL})"
        ),
    ]
    if json_output:
        added.append(
            parser.add_argument("--json", action="store_true", help="print JSON for scripts")
        )
    return added


def reports_failures(command: Command) -> Command:
    """Turn the errors an API command can meet into a message and an exit code."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        name = args.command
        try:
            return command(args)
        except (CommandError, FlowCaptureError, ApiKeyError, ProjectResolutionError) as exc:
            print(f"watchd {name}: {exc}", file=sys.stderr)
        except ConfigError as exc:
            print(f"watchd {name}: the configuration has problems:\n{exc}", file=sys.stderr)
        except BrokenPipeError:
            raise  # the reader of our output went away (`| head`): main() ends quietly
        except OSError as exc:
            print(f"watchd {name}: {exc.strerror}: {exc.filename}", file=sys.stderr)
        except Exception as exc:
            if not _database_error(exc):
                raise
            first = str(exc).splitlines()[0]
            print(
                f"watchd {name}: the state database failed ({first}); try --state-dir",
                file=sys.stderr,
            )
        return EXIT_FAILED

    return run


def _database_error(exc: Exception) -> bool:
    """Is ``exc`` a SQLAlchemy error? (Most commands never load SQLAlchemy, whose import
    is a tenth of a second: an error of it can only come once something else loaded it.)"""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.SQLAlchemyError)


def make_client(args: argparse.Namespace, pool_size: int = 8) -> FlowCaptureClient:
    """Return a client for the user named by --email/$WATCHD_API_KEY or by the config.

    ``pool_size``: connections kept open (as many as requests the command runs at once).
    """
    if args.email:
        key = os.environ.get(API_KEY_ENV, "").strip()
        if not key:
            raise CommandError(f"--email needs the API key in ${API_KEY_ENV}")
        url = args.url or wire.DEFAULT_BASE_URL
        return FlowCaptureClient(args.email, key, url, pool_size=pool_size)
    path: Path = args.config
    if not path.exists():
        raise CommandError(
            f"no config at {path}: give --config FILE, set $WATCHD_CONFIG, "
            f"or use --email with ${API_KEY_ENV}"
        )
    settings = config_for_operator(path).flowcapture  # (a broken drop folder does not stop it)
    return FlowCaptureClient(
        settings.email, read_api_key(settings), args.url or settings.url, pool_size=pool_size
    )


def resolve_folder(client: FlowCaptureClient, spec: str | None, option: str = "--folder") -> int:
    """Return the folder id for an id or a "Production/Folder/Sub" path; for None, the
    folder the API key is tied to (an immediates connection).

    Raises CommandError (asking for ``option``) when ``spec`` is None and the key is
    tied to no folder,
    ProjectResolutionError when ``spec`` names no visible folder.
    """
    if spec is None:
        project_id = client.key_folder()
        if project_id is None:
            raise CommandError(
                f"give {option} (an id or 'Production/Folder'): the API key of {client.email} "
                "is not tied to a folder"
            )
        return project_id
    directory = ProjectDirectory(client)
    if spec.isdigit():
        return directory.check_id(int(spec))
    return directory.resolve(spec)


def find_asset(client: FlowCaptureClient, ref: str) -> Asset:
    """Return the visible asset with this id or uuid; raises CommandError if there is none."""
    directory = ProjectDirectory(client)
    for folder in directory.folders(None):
        for asset in client.get_assets(folder.id):
            if str(asset.id) == ref or asset.uuid == ref:
                return asset
    raise CommandError(f"no asset {ref!r} visible to this user (give an asset id or uuid)")


def asset_ref(ref: str) -> int | str:
    """An asset id (digits) as a number, a uuid as it is."""
    return int(ref) if ref.isdigit() else ref


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))
