"""`watchd verify FOLDER`: compare a folder with its ASC MHL histories, uploading nothing."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from watchd.custody.check import HistoryReport, check_folder
from watchd.custody.history import HISTORY_DIR, HistoryError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a card folder against its ASC MHL history (no upload)",
        description="Hash every file under FOLDER and compare it with the ASC MHL "
        "histories (ascmhl/ folders) there: a DIT's check of a card before dropping it. "
        "Exit status 0 when every listed file matches and nothing is missing or unlisted.",
    )
    parser.add_argument("folder", type=Path, help="the card or drop folder")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the comparison; return 0 (all match), 1 (a problem) or 2 (no history)."""
    folder: Path = args.folder
    if not folder.is_dir():
        print(f"watchd verify: {folder} is not a folder", file=sys.stderr)
        return 2
    try:
        reports = check_folder(folder)
    except HistoryError as exc:
        print(f"watchd verify: {exc}", file=sys.stderr)
        return 1
    if not reports:
        print(f"watchd verify: no {HISTORY_DIR}/ history at or below {folder}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([_as_json(r) for r in reports], indent=2))
    else:
        print("\n".join(_render(r) for r in reports))
    return 0 if all(r.ok for r in reports) else 1


def _as_json(report: HistoryReport) -> dict[str, object]:
    data = asdict(report)
    data["root"] = str(report.root)
    data["mismatched"] = [
        {"path": p, "format": f, "recorded": e, "actual": a} for p, f, e, a in report.mismatched
    ]
    data["ok"] = report.ok
    return data


def _render(report: HistoryReport) -> str:
    lines = [
        f"{report.root / HISTORY_DIR}: {len(report.verified)} verified, "
        f"{len(report.mismatched)} mismatched, {len(report.missing)} missing, "
        f"{len(report.unlisted)} not in the history"
    ]
    for path, fmt, expected, actual in report.mismatched:
        lines.append(f"  MISMATCH {path}: {fmt} recorded {expected}, file has {actual}")
    lines += [f"  missing  {path}" for path in report.missing]
    lines += [f"  unlisted {path}" for path in report.unlisted]
    lines += [f"  unreadable {path}: {why}" for path, why in report.unreadable]
    lines.append("  OK" if report.ok else "  NOT OK")
    return "\n".join(lines)
