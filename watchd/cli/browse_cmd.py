"""`watchd productions`, `watchd folders`, `watchd assets`: browse what the user can see."""

from __future__ import annotations

import argparse
from collections import defaultdict

from watchd.base.names import printable
from watchd.cli.api_access import (
    CommandError,
    add_api_arguments,
    make_client,
    print_json,
    reports_failures,
    resolve_folder,
)
from watchd.flowcapture.models import Folder, Production
from watchd.ingest.projects import ProjectDirectory


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    productions = subparsers.add_parser(
        "productions", help="list the productions you can see", description="List productions."
    )
    add_api_arguments(productions)
    productions.set_defaults(func=run_productions)

    folders = subparsers.add_parser(
        "folders",
        help="list folders with their ids (--tree to nest them)",
        description="List the folders you can see, with the ids drop folders use as project_id.",
    )
    add_api_arguments(folders)
    folders.add_argument("--production", help="only this production (name or id)")
    folders.add_argument("--tree", action="store_true", help="show nested folders as a tree")
    folders.set_defaults(func=run_folders)

    assets = subparsers.add_parser(
        "assets",
        help="list the assets in a folder",
        description="List the assets in FOLDER (an id or 'Production/Folder/Sub'; by default "
        "the folder the API key is tied to).",
    )
    add_api_arguments(assets)
    assets.add_argument("folder", metavar="FOLDER", nargs="?")
    assets.add_argument("--batch", help="only assets of this batch")
    assets.set_defaults(func=run_assets)


@reports_failures
def run_productions(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        groups = client.get_groups()
    if args.json:
        print_json([g.to_dict() for g in groups])
    else:
        for group in groups:
            print(f"{group.id:>8}  {printable(group.name)}")
    return 0


@reports_failures
def run_folders(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        directory = ProjectDirectory(client)
        groups = _productions(directory.groups(), args.production)
        paths = directory.folder_paths()
        folders = [f for g in groups for f in directory.folders(g.id) if f.group_id in (None, g.id)]
    if args.json:
        print_json([{**f.to_dict(), "path": paths.get(f.id)} for f in folders])
    elif args.tree:
        print("\n".join(printable(line) for line in tree_lines(groups, folders)))
    else:
        for folder in sorted(folders, key=lambda f: paths.get(f.id, "")):
            print(f"{folder.id:>8}  {printable(paths.get(folder.id, folder.name))}")
    return 0


def _productions(groups: list[Production], wanted: str | None) -> list[Production]:
    if wanted is None:
        return groups
    chosen = [g for g in groups if g.name == wanted or str(g.id) == wanted]
    if not chosen:
        names = ", ".join(g.name for g in groups) or "none"
        raise CommandError(f"no production {wanted!r} visible to you; productions: {names}")
    return chosen


def tree_lines(groups: list[Production], folders: list[Folder]) -> list[str]:
    """Return productions and their nested folders as indented lines with ids."""
    children: dict[tuple[int | None, int | None], list[Folder]] = defaultdict(list)
    known = {f.id for f in folders}
    for folder in folders:
        parent = folder.parent_project_id if folder.parent_project_id in known else None
        children[(folder.group_id, parent)].append(folder)
    lines: list[str] = []

    def walk(group_id: int | None, parent: int | None, depth: int) -> None:
        for folder in sorted(children.get((group_id, parent), []), key=lambda f: f.name):
            lines.append(f"{'  ' * depth}{folder.name} ({folder.id})")
            walk(group_id, folder.id, depth + 1)

    for group in groups:
        lines.append(f"{group.name} ({group.id})")
        walk(group.id, None, 1)
    return lines


@reports_failures
def run_assets(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        folder_id = resolve_folder(client, args.folder, "FOLDER")
        assets = client.get_assets(folder_id)
    if args.batch is not None:
        assets = [a for a in assets if a.batch_name == args.batch]
    if args.json:
        print_json([a.to_dict() for a in assets])
        return 0
    if not assets:
        print("no assets")
        return 0
    print(f"{'ID':>8}  {'UUID':<36}  {'BATCH':<20} {'SIZE':>12}  NAME")
    for asset in assets:
        size = asset.size if asset.size is not None else ""
        batch = printable(asset.batch_name or "-")
        name = printable(asset.name)
        print(f"{asset.id:>8}  {printable(asset.uuid or '-'):<36}  {batch:<20} {size:>12}  {name}")
    return 0
