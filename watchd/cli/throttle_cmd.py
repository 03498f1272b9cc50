"""`watchd throttle`: change the upload cap of the running daemon, or go back to the schedule.

`watchd throttle 5MB/s [--for 2h]`, `watchd throttle pause`, `watchd throttle
unlimited`, `watchd throttle --clear`; with no argument it shows the cap in
force. The cap is written to a file in the state folder that the daemon looks
at every quarter second (see :mod:`watchd.daemon.throttle_override`), so it
reaches parts already in flight within a second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from watchd.base.clock import SYSTEM_CLOCK
from watchd.cli.config_path import add_config_argument, load_for_operator
from watchd.cli.store_access import note_daemon
from watchd.config import Config
from watchd.config.bandwidth_syntax import parse_cap
from watchd.config.units import parse_duration
from watchd.daemon.bandwidth_control import BandwidthControl, bandwidth_line
from watchd.daemon.throttle_override import Override, clear_override, write_override

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "throttle",
        help="change the upload cap of the running daemon (e.g. 5MB/s, pause), or --clear",
        description="Cap all uploads together at RATE (e.g. 5MB/s, 100Mbit/s), or pause or "
        "unlimited, overriding transfer.bandwidth until --clear (or for --for). The running "
        "daemon applies it within a second, to parts in flight too; folder caps still apply. "
        "Without RATE, show the cap in force.",
    )
    add_config_argument(parser)
    parser.add_argument(
        "rate", nargs="?", metavar="RATE", help="5MB/s, 100Mbit/s, unlimited or pause"
    )
    parser.add_argument(
        "--for", dest="duration", metavar="DURATION", help="only for this long, e.g. 2h or 30m"
    )
    parser.add_argument(
        "--clear", action="store_true", help="remove the override: back to transfer.bandwidth"
    )
    parser.add_argument("--json", action="store_true", help="print the cap in force as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.clear and (args.rate or args.duration):
        return _usage("--clear takes no RATE or --for")
    if args.duration and not args.rate:
        return _usage("--for needs a RATE, e.g. watchd throttle 5MB/s --for 2h")
    config = load_for_operator(args.config)
    if config is None:
        return EXIT_USAGE
    try:
        if args.clear:
            _clear(config)
        elif args.rate:
            override = _override(args.rate, args.duration)
            write_override(config.state_dir, override)
            note_daemon(config, "it applies")
    except ValueError as exc:
        return _usage(str(exc))
    except OSError as exc:
        print(
            f"watchd throttle: cannot change {config.state_dir}: {exc.strerror}; run it as "
            "root or as the user watchd runs as",
            file=sys.stderr,
        )
        return 1
    report = BandwidthControl(config, SYSTEM_CLOCK).report()
    print(json.dumps(report, indent=2) if args.json else bandwidth_line(report))
    return 0


def _override(rate_text: str, duration_text: str | None) -> Override:
    """Return the override the arguments ask for; raises ValueError saying what is wrong."""
    try:
        rate = parse_cap(rate_text)
    except ValueError as exc:
        raise ValueError(f"RATE {exc}; or pause") from None
    now = time.time()
    until = None
    if duration_text is not None:
        try:
            seconds = parse_duration(duration_text)
        except ValueError as exc:
            raise ValueError(f"--for: {exc}") from None
        if seconds <= 0:
            raise ValueError("--for must be longer than 0s")
        until = now + seconds
    return Override(rate=rate, text=rate_text.strip(), set_at=now, until=until)


def _clear(config: Config) -> None:
    if not clear_override(config.state_dir):
        print("no `watchd throttle` cap was set", file=sys.stderr)


def _usage(message: str) -> int:
    print(f"watchd throttle: {message}", file=sys.stderr)
    return EXIT_USAGE
