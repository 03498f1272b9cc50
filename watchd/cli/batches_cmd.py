"""`watchd batches`: Flow Capture batches, newest first, with their state and size."""

from __future__ import annotations

import argparse
from typing import Any

from watchd.base.names import printable
from watchd.cli.config_path import add_config_argument
from watchd.cli.store_access import add_limit_argument, run_listing
from watchd.store.queries import list_batches


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "batches",
        help="list batches (open, closing, closed, empty), newest first",
        description="List batches, newest first: open ones still take files, closing ones "
        "wait for /complete/upload to be accepted, closed ones were accepted, empty ones "
        "closed with no file uploaded (their files were cancelled or failed).",
    )
    add_config_argument(parser)
    add_limit_argument(parser, 30)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_listing(
        args, "batches", lambda session: list_batches(session, limit=args.limit), render
    )


def render(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no batches"
    lines = [f"{'ID':>5}  {'STATE':<8} {'FILES':>5}  {'FOLDER':<14} NAME"]
    for row in rows:
        lines.append(
            f"{row['id']:>5}  {row['state']:<8} {row['files']:>5}  "
            f"{printable(row['folder'])[:14]:<14} {printable(row['name'])}"
            + (f"  (+{row['left_out']} cancelled or failed)" if row.get("left_out") else "")
        )
        if row["last_error"]:
            lines.append(f"{'':>7}last error: {printable(row['last_error'])}")
    return "\n".join(lines)
