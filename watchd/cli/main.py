"""The `watchd` command: argument parsing and dispatch to the command modules.

Each command module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` (a callable taking the parsed namespace and returning an exit
code) as the parser default.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from watchd import __version__
from watchd.cli import (
    batches_cmd,
    browse_cmd,
    check_config_cmd,
    comments_cmd,
    db_cmd,
    demo_cmd,
    download_cmd,
    emulator_cmd,
    jobs_cmd,
    retry_cmd,
    run_cmd,
    sample_cmd,
    status_cmd,
    upload_cmd,
)
from watchd.daemon.logs import configure_logging

# In the order `watchd --help` lists them: the daemon and its operators first,
# then the Flow Capture commands for people, then tools.
COMMAND_MODULES = (
    run_cmd,
    status_cmd,
    jobs_cmd,
    retry_cmd,
    batches_cmd,
    check_config_cmd,
    sample_cmd,
    db_cmd,
    browse_cmd,
    comments_cmd,
    download_cmd,
    upload_cmd,
    demo_cmd,
    emulator_cmd,
)


SERVICE_COMMANDS = frozenset({"run", "demo", "emulator"})


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="watchd",
        description="Watch-folder ingest daemon for Autodesk Flow Capture.",
    )
    parser.add_argument("--version", action="version", version=f"watchd {__version__}")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="log level for messages on stderr (default: info for run, demo and emulator, "
        "warning for the other commands, whose output says what happened)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def default_log_level(command: str) -> str:
    """Services narrate at info; one-shot commands only show warnings besides their output."""
    return "info" if command in SERVICE_COMMANDS else "warning"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in ``argv`` and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure_logging(args.log_level or default_log_level(args.command))
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
