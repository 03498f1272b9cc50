"""The `watchd` command: argument parsing and dispatch to the command modules.

Each command module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` (a callable taking the parsed namespace and returning an exit
code) as the parser default. Only the module of the command being run is
imported (``watchd upload`` need not load the daemon, the emulator and
Alembic first); ``watchd --help`` imports them all to list them.

A reader that stops early (``watchd jobs | head``, quitting ``less``) is
handled here once for every command: the command ends quietly with status 141,
as a program killed by SIGPIPE would, instead of a BrokenPipeError traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn, TextIO

from watchd import __version__
from watchd.daemon.logs import configure_logging

# Command module -> the commands it registers, in the order `watchd --help` lists
# them: the daemon and its operators first, then the Flow Capture commands for
# people, then tools.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "run_cmd": ("run",),
    "status_cmd": ("status",),
    "jobs_cmd": ("jobs", "cancel"),
    "retry_cmd": ("retry",),
    "throttle_cmd": ("throttle",),
    "notify_cmd": ("notify",),
    "batches_cmd": ("batches",),
    "receipt_cmd": ("receipt",),
    "verify_cmd": ("verify",),
    "check_config_cmd": ("check-config",),
    "sample_cmd": ("sample-config",),
    "db_cmd": ("db",),
    "browse_cmd": ("productions", "folders", "assets"),
    "comments_cmd": ("comments", "comment"),
    "tag_cmd": ("tag",),
    "download_cmd": ("download",),
    "upload_cmd": ("upload",),
    "demo_cmd": ("demo",),
    "emulator_cmd": ("emulator",),
}
GLOBAL_OPTIONS_WITH_VALUE = frozenset({"--log-level"})


SERVICE_COMMANDS = frozenset({"run", "demo", "emulator"})
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as a shell reports Ctrl-C
EXIT_OUTPUT_CLOSED = 128 + signal.SIGPIPE  # 141, as a shell reports `... | head`


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the top-level parser: with the command ``argv`` names, or every command."""
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
    for name in _modules_for(argv):
        importlib.import_module(f"watchd.cli.{name}").register(subparsers)
    return parser


def _modules_for(argv: Sequence[str] | None) -> list[str]:
    """Return the command module ``argv`` needs, or all of them (help, a typo)."""
    words = list(sys.argv[1:] if argv is None else argv)
    while words and words[0].startswith("-"):
        option = words.pop(0)
        if option in GLOBAL_OPTIONS_WITH_VALUE and "=" not in option and words:
            words.pop(0)
    command = words[0] if words else None
    for name, commands in COMMAND_MODULES.items():
        if command in commands:
            return [name]
    return list(COMMAND_MODULES)


def default_log_level(command: str) -> str:
    """Services narrate at info; one-shot commands only show warnings besides their output."""
    return "info" if command in SERVICE_COMMANDS else "warning"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named in ``argv`` and return its exit code.

    Returns EXIT_OUTPUT_CLOSED when the reader of stdout (or stderr) went away;
    a BrokenPipeError that did not come from them is raised.
    """
    try:
        code = _run_command(argv)
        sys.stdout.flush()  # a reader gone shows here, not in the interpreter's last flush
    except BrokenPipeError:
        if not _silence_closed_outputs():
            raise
        return EXIT_OUTPUT_CLOSED
    return code


def run() -> NoReturn:
    """The ``watchd`` program: run :func:`main`, then exit without the interpreter's teardown.

    By then every command has committed, closed and printed what it had to;
    freeing the objects of some 600 modules one by one would only add half a
    second to every command. Log handlers and the standard streams are flushed
    first. While another (non-daemon) thread still runs, the exit is the usual
    one, which waits for it.
    """
    code = main()
    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        _silence_closed_outputs()
        code = code or EXIT_OUTPUT_CLOSED
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        sys.exit(code)
    os._exit(code)


def _run_command(argv: Sequence[str] | None) -> int:
    parser = build_parser(argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # what parse_args does, but with the usage of the command that was given
        _innermost(parser, args).error(f"unrecognized arguments: {' '.join(unknown)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure_logging(args.log_level or default_log_level(args.command))
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _innermost(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> argparse.ArgumentParser:
    """Return the parser of the (sub)command ``args`` was parsed with: ``watchd db check``'s."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                return _innermost(chosen, args)
    return parser


def _silence_closed_outputs() -> bool:
    """Point stdout and stderr at /dev/null where their reader is gone; return True if any was.

    What is still buffered then goes nowhere, so Python's own flush at exit
    cannot raise BrokenPipeError again (the recipe in the docs of ``signal``).
    """
    closed = [stream for stream in (sys.stdout, sys.stderr) if _reader_gone(stream)]
    if closed:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in closed:
            os.dup2(devnull, stream.fileno())
        os.close(devnull)
    return bool(closed)


def _reader_gone(stream: TextIO | None) -> bool:
    """Return True if ``stream`` is a pipe or socket whose other end is closed."""
    try:
        fd = stream.fileno() if stream is not None else -1
    except (OSError, ValueError):  # replaced by an object without a descriptor, or closed
        return False
    if fd < 0:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
