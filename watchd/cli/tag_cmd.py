"""`watchd tag`: set, clear and replace an asset's tags and metadata (/update/asset).

Metadata keys are merged into the asset's (we assume; the vendor document says
the pairs are "applied"): keys not named are left as they are. ``KEY=`` clears
a key (JSON null on the wire), ``--tags`` replaces the whole tag list and
``--clear-tags`` (or ``--tags ""``) empties it. Values are sent as the text
typed (``take=003`` stays "003"); ``--json-value KEY=JSON`` sends a number,
true/false, null or any other JSON value instead.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from watchd.cli.api_access import (
    CommandError,
    add_api_arguments,
    asset_ref,
    make_client,
    print_json,
    reports_failures,
)
from watchd.flowcapture.wire import UPDATE_ASSET_OWN_FIELDS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tag = subparsers.add_parser(
        "tag",
        help="set or clear an asset's tags and metadata",
        description="Set metadata on ASSET (id or uuid): KEY=VALUE sets a key (the text as "
        "typed), KEY= clears it, other keys are kept. --tags replaces the tag list.",
    )
    add_api_arguments(tag)
    tag.add_argument("asset", metavar="ASSET")
    tag.add_argument("pairs", nargs="*", metavar="KEY=VALUE", help="KEY= clears the key")
    tag.add_argument(
        "--json-value",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="set KEY to a JSON value: a number, true, false, null, a list (repeatable)",
    )
    tag.add_argument(
        "--tags",
        help='comma-separated tags that replace the asset\'s, e.g. dailies,day1; "" clears',
    )
    tag.add_argument("--clear-tags", action="store_true", help="remove all of the asset's tags")
    tag.set_defaults(func=run_tag)


def parse_metadata(pairs: list[str], json_values: list[str]) -> dict[str, Any]:
    """Return the metadata to send: text values, None for ``KEY=``, decoded JSON values.

    Raises CommandError for a malformed pair, bad JSON, a key given twice or a
    key that /update/asset uses itself (``id``, ``tags``).
    """
    metadata: dict[str, Any] = {}
    for pair in pairs:
        key, value = _split(pair, "KEY=VALUE")
        _add(metadata, key, value if value != "" else None)
    for pair in json_values:
        key, text = _split(pair, "KEY=JSON")
        try:
            _add(metadata, key, json.loads(text))
        except json.JSONDecodeError:
            raise CommandError(
                f"--json-value {pair!r}: {text!r} is not JSON (a string needs quotes: '\"...\"')"
            ) from None
    return metadata


def _split(pair: str, form: str) -> tuple[str, str]:
    key, sep, value = pair.partition("=")
    if not sep or not key.strip():
        raise CommandError(f"{pair!r} is not {form}")
    key = key.strip()
    if key in UPDATE_ASSET_OWN_FIELDS:
        hint = "use --tags or --clear-tags" if key == "tags" else "the asset is the ASSET argument"
        raise CommandError(
            f"{key!r} cannot be a metadata key: /update/asset uses '{key}' itself ({hint})"
        )
    return key, value


def _add(metadata: dict[str, Any], key: str, value: Any) -> None:
    if key in metadata:
        raise CommandError(f"metadata key {key!r} is given twice")
    metadata[key] = value


def parse_tags(tags: str | None, clear: bool) -> list[str] | None:
    """Return the new tag list (``[]`` clears), or None to leave the tags as they are."""
    if clear:
        if tags:
            raise CommandError("--clear-tags and --tags with tags contradict each other")
        return []
    if tags is None:
        return None
    return [t.strip() for t in tags.split(",") if t.strip()]


@reports_failures
def run_tag(args: argparse.Namespace) -> int:
    metadata = parse_metadata(args.pairs, args.json_value)
    tags = parse_tags(args.tags, args.clear_tags)
    if not metadata and tags is None:
        raise CommandError("nothing to set: give KEY=VALUE pairs, --tags or --clear-tags")
    with make_client(args) as client:
        client.update_asset(asset_ref(args.asset), tags=tags, metadata=metadata)
    if args.json:
        print_json({"asset": args.asset, "updated": True, "tags": tags, "metadata": metadata})
    else:
        print(f"asset {args.asset} updated")
    return 0
