"""`watchd comments`, `watchd comment add|edit|delete`: comments and replies on assets."""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

from watchd.base.names import printable
from watchd.cli.api_access import (
    CommandError,
    add_api_arguments,
    asset_ref,
    make_client,
    print_json,
    reports_failures,
)
from watchd.cli.config_path import given_after_action
from watchd.flowcapture.models import Comment

COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = subparsers.add_parser(
        "comments",
        help="show an asset's comments, replies under their parent",
        description="Show the comments on ASSET (an asset id or uuid), earliest first.",
    )
    add_api_arguments(listing)
    listing.add_argument("asset", metavar="ASSET")
    listing.set_defaults(func=run_comments)

    comment = subparsers.add_parser("comment", help="add, edit or delete a comment")
    add_api_arguments(comment)  # (also before the action: `watchd comment --json add ...`)
    actions = comment.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="comment on an asset (or reply to a comment)")
    given_after_action(add_api_arguments(add))
    add.add_argument("asset", metavar="ASSET", help="asset id or uuid")
    add.add_argument("text", metavar="TEXT")
    _comment_options(add)
    add.add_argument("--reply-to", type=int, metavar="ID", help="reply to this comment")
    add.set_defaults(func=run_add)
    edit = actions.add_parser("edit", help="change a comment's text, colour or time")
    given_after_action(add_api_arguments(edit))
    edit.add_argument("id", type=int, metavar="ID")
    edit.add_argument("--text", help="new text")
    _comment_options(edit)
    edit.add_argument("--no-marker", action="store_true", help="remove the timeline marker")
    thread = edit.add_mutually_exclusive_group()
    thread.add_argument("--reply-to", type=int, metavar="ID", help="make it a reply to ID")
    thread.add_argument(
        "--top-level", action="store_true", help="make a reply a comment of its own"
    )
    edit.set_defaults(func=run_edit)
    delete = actions.add_parser("delete", help="delete a comment")
    given_after_action(add_api_arguments(delete))
    delete.add_argument("id", type=int, metavar="ID")
    delete.set_defaults(func=run_delete)


def _comment_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", type=float, metavar="SECONDS", help="marker time in the clip")
    parser.add_argument("--color", metavar="#rrggbb", help="colour on the timeline")


def _color(value: str | None) -> str | None:
    if value is not None and not COLOR_RE.fullmatch(value):
        raise CommandError(f"--color {value!r} is not a colour like #ff00ee")
    return value


@reports_failures
def run_comments(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        comments = [c for c in client.get_comments(asset_ref(args.asset)) if c.type != "IO_POINT"]
    if args.json:
        print_json([c.to_dict() for c in comments])
    elif not comments:
        print("no comments")
    else:
        print("\n".join(thread_lines(comments)))
    return 0


def thread_lines(comments: list[Comment]) -> list[str]:
    """Return comments earliest first with each reply indented under its parent."""
    replies: dict[int | None, list[Comment]] = defaultdict(list)
    ids = {c.id for c in comments}
    for comment in comments:
        parent = comment.parent_id if comment.is_reply and comment.parent_id in ids else None
        replies[parent].append(comment)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for comment in replies.get(parent, []):
            lines.append("  " * depth + _line(comment))
            walk(comment.id, depth + 1)

    walk(None, 0)
    return lines


def _line(comment: Comment) -> str:
    names = [comment.user_first_name, comment.user_last_name]
    who = printable(" ".join(filter(None, names))) or "?"
    at = (
        f" @{comment.marker_time:.2f}s"
        if comment.has_marker and comment.marker_time is not None
        else ""
    )
    color = f" {comment.color}" if comment.color else ""
    # Another user's text: its lines kept (indented), nothing that would drive the terminal.
    text = "\n    ".join(printable(part) for part in comment.description.split("\n"))
    return f"[{comment.id}] {who}{at}{printable(color)}: {text}"


@reports_failures
def run_add(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        comment = client.create_comment(
            asset_ref(args.asset),
            args.text,
            color=_color(args.color),
            marker_time=args.at,
            parent_comment_id=args.reply_to,
        )
    _show(args, comment, "added")
    return 0


@reports_failures
def run_edit(args: argparse.Namespace) -> int:
    if args.no_marker and args.at is not None:
        raise CommandError("--at sets a marker and --no-marker removes it: give one")
    changes = (args.text, args.color, args.at, args.reply_to)
    if all(c is None for c in changes) and not (args.no_marker or args.top_level):
        raise CommandError(
            "nothing to change: give --text, --color, --at, --no-marker, --reply-to or --top-level"
        )
    with make_client(args) as client:
        comment = client.update_comment(
            args.id,
            description=args.text,
            color=_color(args.color),
            marker_time=args.at,
            has_marker=False if args.no_marker else None,
            parent_comment_id=args.reply_to,
            is_reply=False if args.top_level else None,
        )
    _show(args, comment, "updated")
    return 0


@reports_failures
def run_delete(args: argparse.Namespace) -> int:
    with make_client(args) as client:
        deleted = client.delete_comment(args.id)
    if args.json:
        print_json({"id": args.id, "deleted": deleted})
    else:
        print(f"comment {args.id} {'deleted' if deleted else 'was not deleted'}")
    return 0 if deleted else 1


def _show(args: argparse.Namespace, comment: Comment, verb: str) -> None:
    if args.json:
        print_json(comment.to_dict())
    else:
        print(f"{verb} {_line(comment)}")
