"""Reading an ASC MHL history: the ``ascmhl/`` folder an offload tool leaves beside the media.

A history is a numbered series of generations (``0001_Card_2026-11-28_101500Z.mhl``
...) listed with their C4 ids in ``ascmhl_chain.xml``. Each generation records
files (paths relative to the folder holding ``ascmhl/``) with one or more
hashes. What counts for a file is the newest hash recorded for it in each
format (a ``failed`` entry records a bad copy and never counts). A history
covers the files below its folder; the nearest one up the tree wins, as ASC
MHL nests histories.
"""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from watchd.custody.hashing import cheapest, hash_bytes, is_format

HISTORY_DIR = "ascmhl"
CHAIN_FILE = "ascmhl_chain.xml"
GENERATION_RE = re.compile(r"^(\d{4,})(?:_(.+))?\.mhl$")
MHL_NS = "urn:ASC:MHL:v2.0"
CHAIN_NS = "urn:ASC:MHL:DIRECTORY:v2.0"


def parse_xml(data: bytes) -> ET.Element:
    """Parse a history file; raises ET.ParseError.

    ElementTree never fetches external entities, and expat (2.4 and later) caps
    entity expansion, so a hostile file on a card costs an error, not the machine.
    """
    return ET.fromstring(data)  # noqa: S314 - see the docstring


class CustodyError(Exception):
    """A file whose chain of custody does not hold: it must not go up (never retried)."""


class HistoryError(CustodyError):
    """An ``ascmhl/`` folder that cannot be read or trusted; the text names the file."""


@dataclass(frozen=True)
class RecordedFile:
    """What a history says about one file: its newest hash per format."""

    relpath: str  # below the history's root, with '/'
    size: int | None
    hashes: dict[str, str]  # format -> newest good digest (lower case)

    @property
    def check_format(self) -> str | None:
        """The cheapest recorded format: the one a check computes."""
        return cheapest(self.hashes)


@dataclass(frozen=True)
class Generation:
    number: int
    filename: str
    c4: str | None  # as listed in the chain file


@dataclass(frozen=True)
class History:
    """One ``ascmhl/`` folder, read."""

    root: Path  # the folder that holds ascmhl/
    generations: tuple[Generation, ...]
    files: dict[str, RecordedFile]
    ignore_patterns: tuple[str, ...] = ()  # of the newest generation that lists any
    formats: frozenset[str] = field(default_factory=frozenset)  # every format recorded

    @property
    def folder(self) -> Path:
        return self.root / HISTORY_DIR

    @property
    def latest_number(self) -> int:
        return max((g.number for g in self.generations), default=0)

    def relpath_of(self, path: Path) -> str:
        """Return ``path`` below this history's root, with '/' (ValueError if outside)."""
        return path.relative_to(self.root).as_posix()

    def main_format(self) -> str:
        """The format to record in a new generation: the cheapest the history uses, or xxh64."""
        return cheapest(self.formats) or "xxh64"


def history_root_for(path: Path, top: Path) -> Path | None:
    """Return the nearest folder from ``path``'s folder up to ``top`` that holds ``ascmhl/``."""
    here = path.parent
    while True:
        if (here / HISTORY_DIR).is_dir():
            return here
        if here in (top, here.parent) or top not in here.parents:
            return None
        here = here.parent


def read_history(root: Path) -> History:
    """Read the history in ``root/ascmhl``; raises HistoryError naming the file at fault."""
    folder = root / HISTORY_DIR
    chain = _read_chain(folder)
    generations: list[Generation] = []
    try:
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
    except OSError as exc:
        raise HistoryError(f"cannot list {folder}: {exc.strerror or exc}") from exc
    for name in names:
        match = GENERATION_RE.match(name)
        if match is None or name.startswith("._"):
            continue
        generations.append(Generation(int(match.group(1)), name, chain.get(name)))
    generations.sort(key=lambda g: g.number)
    for listed in chain.keys() - {g.filename for g in generations}:
        raise HistoryError(f"{folder / CHAIN_FILE} lists {listed}, which is missing")
    for unlisted in [g.filename for g in generations if chain and g.c4 is None]:
        # (its C4 id cannot be checked: one added by hand could say anything)
        raise HistoryError(f"{folder / unlisted} is not in {CHAIN_FILE}: added by hand?")
    files: dict[str, dict[str, str]] = {}
    sizes: dict[str, int | None] = {}
    ignore: tuple[str, ...] = ()
    for generation in generations:
        data = _read_bytes(folder / generation.filename)
        if generation.c4 is not None and hash_bytes(data, "c4") != generation.c4:
            raise HistoryError(
                f"{folder / generation.filename} was changed after it was written: its C4 id "
                f"does not match {CHAIN_FILE}"
            )
        patterns = _parse_generation(folder / generation.filename, data, files, sizes)
        ignore = patterns or ignore
    recorded = {
        rel: RecordedFile(rel, sizes.get(rel), hashes) for rel, hashes in files.items() if hashes
    }
    formats = frozenset(f for entry in recorded.values() for f in entry.hashes)
    return History(root, tuple(generations), recorded, ignore, formats)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise HistoryError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _read_chain(folder: Path) -> dict[str, str]:
    """Return generation file name -> C4 id from the chain file ({} if there is none)."""
    path = folder / CHAIN_FILE
    if not path.exists():
        return {}
    try:
        tree = parse_xml(_read_bytes(path))
    except ET.ParseError as exc:
        raise HistoryError(f"{path} is not valid XML: {exc}") from exc
    listed = {}
    for entry in tree.iter(f"{{{CHAIN_NS}}}hashlist"):
        name = entry.findtext(f"{{{CHAIN_NS}}}path")
        c4 = entry.findtext(f"{{{CHAIN_NS}}}c4")
        if name:
            listed[name.strip()] = (c4 or "").strip()
    return listed


def _parse_generation(
    path: Path, data: bytes, files: dict[str, dict[str, str]], sizes: dict[str, int | None]
) -> tuple[str, ...]:
    """Fold one generation's file hashes into ``files``; return its ignore patterns."""
    try:
        tree = parse_xml(data)
    except ET.ParseError as exc:
        raise HistoryError(f"{path} is not valid XML: {exc}") from exc
    if tree.tag != f"{{{MHL_NS}}}hashlist":
        raise HistoryError(f"{path} is not an ASC MHL 2.0 hash list (root element {tree.tag})")
    for entry in tree.iter(f"{{{MHL_NS}}}hash"):
        path_el = entry.find(f"{{{MHL_NS}}}path")
        rel = (path_el.text or "").strip().replace("\\", "/") if path_el is not None else ""
        if path_el is None or not rel:
            raise HistoryError(f"{path}: a <hash> without a <path>")
        previous = (entry.findtext(f"{{{MHL_NS}}}previousPath") or "").strip().replace("\\", "/")
        if previous and previous != rel and previous in files:
            # Renamed since an earlier generation: its hashes now belong to the new name,
            # and the old name is no longer a file the history expects on disk.
            files[rel] = {**files.pop(previous), **files.get(rel, {})}
            sizes[rel] = sizes.pop(previous, None)
        size = path_el.get("size")
        sizes[rel] = int(size) if size is not None and size.isdigit() else sizes.get(rel)
        hashes = files.setdefault(rel, {})
        for child in entry:
            fmt = child.tag.rpartition("}")[2]
            if is_format(fmt) and child.get("action") != "failed" and child.text:
                # The first generation's hash (the original) stands, as for ascmhl: a later
                # one that differs does not make a changed file verified.
                hashes.setdefault(
                    fmt, child.text.strip().lower() if fmt != "c4" else child.text.strip()
                )
    return tuple(
        (p.text or "").strip() for p in tree.iter(f"{{{MHL_NS}}}pattern") if (p.text or "").strip()
    )


class HistoryCache:
    """Histories read once and read again only when their ``ascmhl/`` folder changed.

    Thread-safe: workers of one folder share it. A history that appears after
    its media settled is seen at the next look.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], History]] = {}

    def get(self, root: Path) -> History:
        """Return the history in ``root/ascmhl``; raises HistoryError."""
        signature = _signature(root / HISTORY_DIR)
        with self._lock:
            cached = self._cache.get(root)
        if cached is not None and cached[0] == signature:
            return cached[1]
        history = read_history(root)
        with self._lock:
            self._cache[root] = (signature, history)
        return history


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple(
            sorted(
                (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
                for entry in folder.iterdir()
            )
        )
    except OSError as exc:
        raise HistoryError(f"cannot list {folder}: {exc.strerror or exc}") from exc
