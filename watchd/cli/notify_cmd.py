"""`watchd notify --test`: send a test message to every notification target now.

Says per target whether it worked (exit 1 if any did not). The webhook URL is
never printed: a target is named by its host, or by its email address.
"""

from __future__ import annotations

import argparse

from watchd.cli.config_path import add_config_argument, load_for_operator
from watchd.notify.outbox import send_test
from watchd.notify.targets import build_targets

EXIT_USAGE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "notify",
        help="send a test message to every notification target (--test)",
        description="With --test, send a test message to every target of notify: in the "
        "config, at once (not through the daemon's queue), and say per target whether it "
        "worked. Exit 1 if any did not.",
    )
    add_config_argument(parser)
    parser.add_argument("--test", action="store_true", help="send the test message")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.test:
        print("watchd notify: nothing to do; give --test to send a test message")
        return EXIT_USAGE
    config = load_for_operator(args.config)
    if config is None:
        return EXIT_USAGE
    if not config.notify:
        print("no notification targets: add a notify: list to the config")
        return 1
    targets, problems = build_targets(config.notify)
    for problem in problems:
        print(f"FAILED  {problem}")
    failures = len(problems)
    for target, error in send_test(targets, config.node.name):
        if error is None:
            print(f"ok      {target.name}")
        else:
            failures += 1
            print(f"FAILED  {target.name}: {error}")
    return 1 if failures else 0
