"""Writing ASC MHL receipts: a new generation in a history, and the JSON beside it.

A receipt is an ASC MHL 2.0 hash list (``NNNN_<name>_<date>Z.mhl``) in an
``ascmhl/`` folder, listed with its C4 id in ``ascmhl_chain.xml``: either
appended to the offload tool's own history (the chain of custody it
started), or in a history of its own under the receipts folder. Every file
is written to a temporary name, flushed and renamed into place, the hash
list before the chain that lists it, so a crash leaves the old chain or the
new one, never half of either.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchd.base.atomic_files import atomic_write
from watchd.custody.hashing import SCHEMA_ORDER, hash_bytes
from watchd.custody.history import (
    CHAIN_FILE,
    CHAIN_NS,
    GENERATION_RE,
    HISTORY_DIR,
    MHL_NS,
    parse_xml,
)

# What ASC MHL's own tool ignores by default; a new history starts with these.
DEFAULT_IGNORE = (".DS_Store", "ascmhl", "ascmhl/")
_XML_HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ReceiptEntry:
    """One file of a receipt."""

    relpath: str  # below the history's root, with '/'
    size: int
    modified: datetime
    hashes: dict[str, str]  # format -> digest
    verified: frozenset[str] = frozenset()  # formats an earlier generation recorded and matched


@dataclass(frozen=True)
class ReceiptInfo:
    """Who wrote the receipt and why: ASC MHL's creator and process info."""

    tool_version: str
    hostname: str
    comment: str  # the batch and the Flow Capture folder
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    process: str = "transfer"  # ASC MHL: in-place | transfer | flatten
    ignore: Sequence[str] = DEFAULT_IGNORE


def safe_name(text: str) -> str:
    """Return ``text`` made safe as part of a file name (letters, digits, . _ -)."""
    return _UNSAFE_NAME.sub("-", text).strip("-.") or "batch"


def write_generation(
    root: Path, name: str, entries: Sequence[ReceiptEntry], info: ReceiptInfo
) -> Path:
    """Append a generation listing ``entries`` to the history in ``root/ascmhl``.

    The folder and its chain file are created when missing. Returns the path
    of the new hash list; raises OSError (the folder is not writable).

    Written once: when a generation with the same creator comment (it names
    the batch) is there already, from a try cut short before it was recorded
    as written (a crash, a power cut), that one is returned, and added to the
    chain file if the cut came before it was.
    """
    folder = root / HISTORY_DIR
    folder.mkdir(exist_ok=True)
    earlier = _generation_with_comment(folder, info.comment)
    if earlier is not None:
        add_to_chain(earlier[1])
        return earlier[1]
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := GENERATION_RE.match(p.name))]
    number = max(numbers, default=0) + 1
    stamp = info.created.astimezone(UTC).strftime("%Y-%m-%d_%H%M%SZ")
    filename = f"{number:04d}_{safe_name(name)}_{stamp}.mhl"
    atomic_write(folder / filename, _hash_list_xml(entries, info))
    add_to_chain(folder / filename)
    return folder / filename


def add_to_chain(generation: Path) -> None:
    """List the generation file ``generation`` in its folder's chain file, with its C4 id,
    unless it is listed already."""
    chain = _chain_entries(generation.parent)
    if any(listed == generation.name for _, listed, _ in chain):
        return
    match = GENERATION_RE.match(generation.name)
    number = int(match.group(1)) if match else 0
    chain.append((number, generation.name, hash_bytes(generation.read_bytes(), "c4")))
    chain.sort()
    atomic_write(generation.parent / CHAIN_FILE, _chain_xml(chain))


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` as indented JSON to ``path``, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(document, indent=2, sort_keys=False) + "\n").encode())


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> bool:
    """Can ``text`` be written in an XML 1.0 document (no control characters, no bytes
    that were not UTF-8)?"""
    return _NOT_XML.search(text) is None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _hash_list_xml(entries: Sequence[ReceiptEntry], info: ReceiptInfo) -> bytes:
    root = ET.Element("hashlist", {"version": "2.0", "xmlns": MHL_NS})
    creator = ET.SubElement(root, "creatorinfo")
    ET.SubElement(creator, "creationdate").text = _iso(info.created)
    ET.SubElement(creator, "hostname").text = info.hostname
    ET.SubElement(creator, "tool", {"version": info.tool_version}).text = "watchd"
    ET.SubElement(creator, "comment").text = _NOT_XML.sub("", info.comment)
    process = ET.SubElement(root, "processinfo")
    ET.SubElement(process, "process").text = info.process
    if info.ignore:
        ignore = ET.SubElement(process, "ignore")
        for pattern in info.ignore:
            ET.SubElement(ignore, "pattern").text = pattern
    listed = [entry for entry in entries if xml_safe(entry.relpath)]  # (callers say so)
    if listed:
        hashes = ET.SubElement(root, "hashes")
        for entry in listed:
            _hash_element(hashes, entry, info.created)
    ET.indent(root, space="  ")
    body: bytes = ET.tostring(root, encoding="utf-8")
    return _XML_HEAD + body + b"\n"


def _hash_element(parent: ET.Element, entry: ReceiptEntry, hashed: datetime) -> None:
    element = ET.SubElement(parent, "hash")
    path_attrs = {"size": str(entry.size), "lastmodificationdate": _iso(entry.modified)}
    ET.SubElement(element, "path", path_attrs).text = entry.relpath
    for fmt in SCHEMA_ORDER:
        if fmt in entry.hashes:
            # A format the history had is "verified"; one it lacked is only "verified" when
            # checked alongside a verified one in the same record (ASC MHL's rule), and the
            # first record of a file is its "original".
            action = "verified" if entry.verified else "original"
            attrs = {"action": action, "hashdate": _iso(hashed)}
            ET.SubElement(element, fmt, attrs).text = entry.hashes[fmt]


def _generation_with_comment(folder: Path, comment: str) -> tuple[int, Path] | None:
    """Return (number, path) of a hash list watchd wrote with this creator comment."""
    for path in sorted(folder.iterdir(), reverse=True):  # the newest first
        match = GENERATION_RE.match(path.name)
        if match is None or path.name.startswith("._"):
            continue
        try:
            tree = parse_xml(path.read_bytes())
        except (OSError, ET.ParseError):
            continue  # not ours to judge here; the history check reports it
        creator = tree.find(f"{{{MHL_NS}}}creatorinfo")
        if creator is None or creator.findtext(f"{{{MHL_NS}}}tool") != "watchd":
            continue
        if (creator.findtext(f"{{{MHL_NS}}}comment") or "") == comment:
            return int(match.group(1)), path
    return None


def _chain_entries(folder: Path) -> list[tuple[int, str, str]]:
    path = folder / CHAIN_FILE
    if not path.exists():
        return []
    tree = parse_xml(path.read_bytes())
    entries = []
    for item in tree.iter(f"{{{CHAIN_NS}}}hashlist"):
        number = int(item.get("sequencenr") or 0)
        entries.append(
            (
                number,
                (item.findtext(f"{{{CHAIN_NS}}}path") or "").strip(),
                (item.findtext(f"{{{CHAIN_NS}}}c4") or "").strip(),
            )
        )
    return entries


def _chain_xml(entries: list[tuple[int, str, str]]) -> bytes:
    root = ET.Element("ascmhldirectory", {"xmlns": CHAIN_NS})
    for number, filename, c4 in entries:
        item = ET.SubElement(root, "hashlist", {"sequencenr": str(number)})
        ET.SubElement(item, "path").text = filename
        ET.SubElement(item, "c4").text = c4
    ET.indent(root, space="  ")
    body: bytes = ET.tostring(root, encoding="utf-8")
    return _XML_HEAD + body + b"\n"
