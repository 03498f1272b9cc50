"""`watchd run`: the daemon in the foreground (systemd runs it this way)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from watchd.cli.config_path import add_config_argument, load_or_report
from watchd.config import Config
from watchd.config.secrets import ApiKeyError
from watchd.daemon.app import Daemon
from watchd.daemon.logs import configure_logging
from watchd.daemon.runtime_files import AlreadyRunningError, StateFolderError
from watchd.store.database import database_problem, database_url
from watchd.store.leases import NodeNameTaken
from watchd.store.migrate import SchemaError

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the ingest daemon in the foreground",
        description="Watch the configured drop folders and upload what settles in them. "
        "Logs go to stderr and to log.file. SIGTERM stops, SIGHUP reloads the configuration.",
    )
    add_config_argument(parser)
    parser.add_argument(
        "--reupload",
        action="store_true",
        help="with a new state database, upload files Flow Capture already has too "
        "(by default they are recorded as done)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config_path: Path = args.config
    config = load_or_report(config_path)
    if config is None:
        return 2
    try:
        configure_logging(config.log.level, config.log.file, config.log.format)
    except OSError as exc:
        configure_logging(config.log.level, None, config.log.format)
        return cannot_start(
            f"cannot write the log file {config.log.file} ({exc.strerror}); give the watchd "
            "user write access to it and its folder, or change log.file"
        )
    try:
        daemon = Daemon(config_path, config, reupload=args.reupload)
        daemon.start()
    except (AlreadyRunningError, StateFolderError, ApiKeyError, SchemaError, NodeNameTaken) as exc:
        return cannot_start(str(exc))
    except SQLAlchemyError as exc:  # the upgrade's one-line DatabaseProblem, or a raw error
        return cannot_start(str(database_problem(exc, _url(config))))
    daemon.run()
    code = 1 if daemon.fatal else 0  # it stopped itself (its database was deleted, say)
    if daemon.leftover_threads:
        # Everything is committed and closed; a thread stuck past the deadline (a hung
        # network share, say) must not keep the process alive. The next start resumes.
        log.warning("leaving with %d thread(s) still busy", len(daemon.leftover_threads))
        logging.shutdown()
        os._exit(code)
    return code


def cannot_start(message: str) -> int:
    """Say why the daemon cannot start, on stderr and in the log; return the exit code 1."""
    log.error("cannot start: %s", message)
    print(f"watchd: cannot start: {message}", file=sys.stderr)
    return 1


def _url(config: Config) -> str:
    return database_url(config.database, config.state_dir)
