"""Checking files against their offload history: one file before its upload completes,
or a whole folder for ``watchd verify``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from watchd.base.stop import StopToken
from watchd.custody.hashing import hash_file
from watchd.custody.history import (
    HISTORY_DIR,
    CustodyError,
    History,
    HistoryCache,
    RecordedFile,
)

RECEIPT_FORMATS = ("xxh64", "md5")  # what a receipt records for every file, besides the history's


class NotInHistory(CustodyError):
    """``verify: mhl`` and the file has no recorded hash to be checked against."""


class ChecksumMismatch(CustodyError):
    """A file does not hash to what its offload history recorded: it must not go up."""

    def __init__(self, path: Path, fmt: str, expected: str, actual: str, history: Path):
        super().__init__(
            f"checksum mismatch: {path} hashes to {fmt} {actual}, but the offload history "
            f"{history / HISTORY_DIR} recorded {fmt} {expected}; the file is not uploaded, "
            "moved or deleted"
        )
        self.path = path
        self.format = fmt
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class FileCheck:
    """A file hashed, and what its history said."""

    hashes: dict[str, str]  # format -> digest, as computed
    history_root: Path | None  # the history that covers it
    relpath: str | None  # below the history's root
    format: str | None  # the format compared (None: not listed, or no history)
    expected: str | None

    @property
    def verified(self) -> bool:
        return self.format is not None and self.hashes.get(self.format) == self.expected

    @property
    def unlisted(self) -> bool:
        """Covered by a history that does not list it (added after the offload)."""
        return self.history_root is not None and self.format is None


def check_file(
    path: Path,
    history: History | None,
    formats: Iterable[str] = RECEIPT_FORMATS,
    stop: StopToken | None = None,
    known: Mapping[str, str] | None = None,
) -> FileCheck:
    """Hash ``path`` once in ``formats`` and the history's format; compare with the history.

    ``known``: digests of this very file computed already (a one-part upload's md5),
    not computed again. Raises ChecksumMismatch, OSError (unreadable) or Stopped.
    """
    if history is None:
        return FileCheck(_hashes(path, formats, stop, known), None, None, None, None)
    relpath = history.relpath_of(path)
    recorded = history.files.get(relpath)
    check = recorded.check_format if recorded else None
    hashes = _hashes(path, _with_check(formats, check, history), stop, known)
    if recorded is None or check is None:
        return FileCheck(hashes, history.root, relpath, None, None)
    expected = recorded.hashes[check]
    if hashes[check] != expected:
        raise ChecksumMismatch(path, check, expected, hashes[check], history.root)
    return FileCheck(hashes, history.root, relpath, check, expected)


def formats_to_hash(path: Path, history: History, formats: Iterable[str]) -> list[str]:
    """Return ``formats`` and the one ``path`` is checked in: the cheapest its history
    records for it, or the history's own for a file it does not list (for the receipt)."""
    recorded = history.files.get(history.relpath_of(path))
    return _with_check(formats, recorded.check_format if recorded else None, history)


def _with_check(formats: Iterable[str], check: str | None, history: History) -> list[str]:
    return list(dict.fromkeys([*formats, check or history.main_format()]))


def _hashes(
    path: Path, formats: Iterable[str], stop: StopToken | None, known: Mapping[str, str] | None
) -> dict[str, str]:
    """Return each of ``formats``' digest of ``path``: from ``known``, or read once for the rest."""
    names = list(dict.fromkeys(formats))
    given = {name: known[name] for name in names if known and name in known}
    missing = [name for name in names if name not in given]
    return {**given, **hash_file(path, missing, stop)} if missing else given


@dataclass
class HistoryReport:
    """One history compared with the files under its root."""

    root: Path
    verified: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, str, str, str]] = field(default_factory=list)  # rel, fmt, exp, got
    missing: list[str] = field(default_factory=list)  # listed, not on disk
    unlisted: list[str] = field(default_factory=list)  # on disk, not listed
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # rel, why

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.unlisted or self.unreadable)


def history_roots(folder: Path) -> list[Path]:
    """Return every folder at or below ``folder`` that holds an ``ascmhl/`` history."""
    roots = []
    for here, dirs, _files in os.walk(folder):
        if HISTORY_DIR in dirs:
            roots.append(Path(here))
        dirs[:] = sorted(d for d in dirs if d != HISTORY_DIR and not d.startswith("."))
    return roots


def files_under(root: Path, nested: Iterable[Path] = ()) -> Iterator[Path]:
    """Yield the files a history at ``root`` covers: not its ``ascmhl/``, not hidden, not
    below a nested history."""
    skip = {p for p in nested if p != root}
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if d != HISTORY_DIR and not d.startswith(".") and Path(here, d) not in skip
        )
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(here, name)


def check_history(
    history: History, nested: Iterable[Path] = (), stop: StopToken | None = None
) -> HistoryReport:
    """Hash every file under ``history.root`` and compare it with the history."""
    report = HistoryReport(history.root)
    seen = set()
    for path in files_under(history.root, nested):
        relpath = history.relpath_of(path)
        seen.add(relpath)
        recorded: RecordedFile | None = history.files.get(relpath)
        if recorded is None or recorded.check_format is None:
            report.unlisted.append(relpath)
            continue
        fmt = recorded.check_format
        try:
            digest = hash_file(path, [fmt], stop)[fmt]
        except OSError as exc:
            report.unreadable.append((relpath, exc.strerror or str(exc)))
            continue
        if digest == recorded.hashes[fmt]:
            report.verified.append(relpath)
        else:
            report.mismatched.append((relpath, fmt, recorded.hashes[fmt], digest))
    report.missing = sorted(set(history.files) - seen)
    return report


def check_folder(folder: Path, stop: StopToken | None = None) -> list[HistoryReport]:
    """Compare every history at or below ``folder`` with its files; raises HistoryError."""
    roots = history_roots(folder)
    cache = HistoryCache()
    return [check_history(cache.get(root), roots, stop) for root in roots]
