"""`watchd run`: the daemon in the foreground (systemd runs it this way)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from watchd.cli.config_path import add_config_argument, load_or_report
from watchd.config.secrets import ApiKeyError
from watchd.daemon.app import Daemon
from watchd.daemon.logs import configure_logging
from watchd.daemon.runtime_files import AlreadyRunningError
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config_path: Path = args.config
    config = load_or_report(config_path)
    if config is None:
        return 2
    configure_logging(config.log.level, config.log.file, config.log.format)
    daemon = Daemon(config_path, config)
    try:
        daemon.start()
    except (AlreadyRunningError, ApiKeyError, SchemaError) as exc:
        log.error("cannot start: %s", exc)
        print(f"watchd: cannot start: {exc}", file=sys.stderr)
        return 1
    daemon.run()
    if daemon.leftover_threads:
        # Everything is committed and closed; a thread stuck past the deadline (a hung
        # network share, say) must not keep the process alive. The next start resumes.
        log.warning("leaving with %d thread(s) still busy", len(daemon.leftover_threads))
        logging.shutdown()
        os._exit(0)
    return 0
