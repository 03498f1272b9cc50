"""`watchd sample-config`: print a commented watchd.yaml (or drop folder file) from the schema."""

from __future__ import annotations

import argparse

from watchd.config.sample import sample_config, sample_folder


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sample-config",
        help="print a commented sample watchd.yaml (every key, its default, what it does)",
        description="Print a sample configuration generated from the schema, every key "
        "with its default and a one-line description. --folder prints a drop folder file.",
    )
    parser.add_argument("--folder", action="store_true", help="a folders.d file instead")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(sample_folder() if args.folder else sample_config(), end="")
    return 0
