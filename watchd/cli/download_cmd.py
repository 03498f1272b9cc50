"""`watchd download`: fetch assets (ORIGINAL or proxies) with resume and size checks.

Every file a category has is fetched (a multi-file original gives several), at
the path the server names below ``--dest``. ``--category`` may be repeated;
``--category all`` takes every category the asset has. ``--playlink ID`` lists
the categories of a review link (the document offers the link on that call only).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from watchd.base.names import printable
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
from watchd.flowcapture.download import Progress, download_files
from watchd.flowcapture.errors import FlowCaptureError
from watchd.flowcapture.models import FileCategories

ALL_CATEGORIES = "all"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download assets or their proxies (lists categories without --category)",
        description="Download ASSETs (ids or uuids). Without --category, list the categories "
        "(ORIGINAL, 1080p, ...) they have. An interrupted download resumes from its .part file.",
    )
    add_api_arguments(parser)
    parser.add_argument("assets", nargs="*", metavar="ASSET")
    parser.add_argument(
        "--category",
        action="append",
        metavar="NAME",
        help="ORIGINAL, a proxy such as 1080p, or 'all' (repeatable)",
    )
    parser.add_argument(
        "--playlink", type=int, metavar="ID", help="list the categories of this review link"
    )
    parser.add_argument("--dest", type=Path, default=Path("."), help="folder to save into")
    parser.add_argument(
        "--non-watermarked", action="store_true", help="the non-watermarked file (needs rights)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files already in --dest (by default such an asset is refused, untouched)",
    )
    parser.set_defaults(func=run)


@reports_failures
def run(args: argparse.Namespace) -> int:
    if args.playlink is not None:
        if args.assets or args.category:
            raise CommandError(
                "--playlink only lists a review link's categories; download by ASSET ids"
            )
    elif not args.assets:
        raise CommandError("give ASSET ids or uuids, or --playlink ID")
    with make_client(args) as client:
        if args.playlink is not None:
            return _list_categories(client.get_file_categories(playlink_id=args.playlink), args)
        ids = [_asset_id(client, ref) for ref in args.assets]
        if not args.category:
            return _list_categories(client.get_file_categories(ids), args)
        results: list[dict[str, Any]] = []
        for asset_id in ids:  # an asset that fails does not stop the others
            try:
                categories = _categories(client, asset_id, args.category)
            except (CommandError, FlowCaptureError) as exc:
                wanted = ",".join(args.category)
                results.append({"asset": asset_id, "category": wanted, "error": str(exc)})
                continue
            results += [_download_category(client, asset_id, c, args) for c in categories]
    if args.json:
        print_json(results)
    failed = [r for r in results if "error" in r]
    for result in failed:
        print(
            f"watchd download: asset {result['asset']} {result['category']}: {result['error']}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _asset_id(client: FlowCaptureClient, ref: str) -> int:
    return int(ref) if ref.isdigit() else find_asset(client, ref).id


def _categories(client: FlowCaptureClient, asset_id: int, wanted: list[str]) -> list[str]:
    """Return the categories to fetch for one asset: those named (in any case, spelt as
    the asset's), ``all`` expanded. Raises CommandError for a category it does not have."""
    has = client.get_file_categories([asset_id]).file_category
    spelt = {name.lower(): name for name in has}
    names: list[str] = []
    for name in wanted:
        if name.lower() == ALL_CATEGORIES:
            expanded = has
        elif name.lower() in spelt:
            expanded = [spelt[name.lower()]]
        else:
            raise CommandError(f"no category {name!r} (it has {', '.join(has) or 'none'})")
        names.extend(n for n in expanded if n not in names)
    return names


def _list_categories(categories: FileCategories, args: argparse.Namespace) -> int:
    if args.json:
        print_json(categories.to_dict())
        return 0
    if not categories.file_category:
        raise CommandError("no downloadable files here")
    sizes = categories.watermarked_file_sizes or categories.non_watermarked_file_sizes
    print("Categories (choose with --category, or --category all):")
    for name in categories.file_category:
        size = sizes.get(name)
        count = categories.file_count.get(name)
        files = f"{count} file(s)" if count is not None else ""
        print(f"  {name:<12} {files:<10} {f'{size} bytes' if size is not None else ''}".rstrip())
    if categories.non_watermarked:
        print("You may also download non-watermarked files (--non-watermarked).")
    return 0


def _download_category(
    client: FlowCaptureClient, asset_id: int, category: str, args: argparse.Namespace
) -> dict[str, Any]:
    lines: list[ProgressLine] = []

    def progress_for(dest: Path) -> Progress:
        if lines:
            lines[-1].finish("done")
        lines.append(ProgressLine(f"asset {asset_id} {printable(category)} {printable(dest.name)}"))
        return lines[-1].update

    try:
        paths = download_files(
            client,
            asset_id,
            category,
            args.dest,
            non_watermarked=args.non_watermarked,
            overwrite=args.overwrite,
            progress_for=progress_for,
            on_task_progress=lambda text: lines[-1].note(f"processing {text}") if lines else None,
        )
    except FlowCaptureError as exc:
        if lines:
            lines[-1].finish("failed")
        return {"asset": asset_id, "category": category, "error": str(exc)}
    if lines:
        lines[-1].finish("done")
    files = [{"path": str(path), "size": path.stat().st_size} for path in paths]
    if not args.json:
        for file in files:
            print(f"{printable(str(file['path']))} ({file['size']} bytes)")
    first = files[0]
    return {"asset": asset_id, "category": category, **first, "files": files}
