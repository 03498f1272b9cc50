"""`watchd download`: fetch assets (ORIGINAL or a proxy) with resume and size checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from watchd.cli.api_access import (
    CommandError,
    add_api_arguments,
    find_asset,
    make_client,
    print_json,
    reports_failures,
)
from watchd.cli.progress import ProgressLine
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.download import download_asset
from watchd.flowcapture.errors import FlowCaptureError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download assets or their proxies (lists categories without --category)",
        description="Download ASSETs (ids or uuids). Without --category, list the categories "
        "(ORIGINAL, 1080p, ...) they have. An interrupted download resumes from its .part file.",
    )
    add_api_arguments(parser)
    parser.add_argument("assets", nargs="+", metavar="ASSET")
    parser.add_argument("--category", help="ORIGINAL or a proxy such as 1080p")
    parser.add_argument("--dest", type=Path, default=Path("."), help="folder to save into")
    parser.add_argument(
        "--non-watermarked", action="store_true", help="the non-watermarked file (needs rights)"
    )
    parser.set_defaults(func=run)


@reports_failures
def run(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        ids = [_asset_id(client, ref) for ref in args.assets]
        if args.category is None:
            return _list_categories(client, ids, args.json)
        results = [_download_one(client, asset_id, args) for asset_id in ids]
    if args.json:
        print_json(results)
    failed = [r for r in results if "error" in r]
    for result in failed:
        print(f"watchd download: asset {result['asset']}: {result['error']}", file=sys.stderr)
    return 1 if failed else 0


def _asset_id(client: FlowCaptureClient, ref: str) -> int:
    return int(ref) if ref.isdigit() else find_asset(client, ref).id


def _list_categories(client: FlowCaptureClient, ids: list[int], as_json: bool) -> int:
    categories = client.get_file_categories(ids)
    if as_json:
        print_json(categories.to_dict())
        return 0
    if not categories.file_category:
        raise CommandError("no downloadable files for these assets")
    sizes = categories.watermarked_file_sizes or categories.non_watermarked_file_sizes
    print("Categories (choose one with --category):")
    for name in categories.file_category:
        size = sizes.get(name)
        print(f"  {name:<12} {f'{size} bytes' if size is not None else ''}")
    if categories.non_watermarked:
        print("You may also download non-watermarked files (--non-watermarked).")
    return 0


def _download_one(
    client: FlowCaptureClient, asset_id: int, args: argparse.Namespace
) -> dict[str, Any]:
    line = ProgressLine(f"asset {asset_id} {args.category}")
    try:
        path = download_asset(
            client,
            asset_id,
            args.category,
            args.dest,
            non_watermarked=args.non_watermarked,
            progress=line.update,
            on_task_progress=lambda text: line.note(f"processing {text}"),
        )
    except FlowCaptureError as exc:
        line.finish("failed")
        return {"asset": asset_id, "error": str(exc)}
    line.finish("done")
    size = path.stat().st_size
    if not args.json:
        print(f"{path} ({size} bytes)")
    return {"asset": asset_id, "path": str(path), "size": size}
