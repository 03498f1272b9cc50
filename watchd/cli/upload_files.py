"""Which files `watchd upload` sends: the files it is given, and the trees of folders.

A folder (a camera card, say) is walked as the daemon walks a drop folder: its
junk filter and the --include/--exclude globs apply to the path below the
folder (``watchd/watch/filters.py``), and hidden folders are not entered. ASC MHL
folders (``ascmhl/``, the card's checksum manifests) are skipped as well: they
are the copy's paperwork, not media. Folder links are not followed.

Each file keeps a path relative to the parent of what was named, with ``/``
separators: ``A001/CLIPS/C0001.MXF`` for ``watchd upload A001/``, ``clip.mov``
for a file. That is the path the daemon records for the same card copied into
a drop folder (its ``relpath``); as in the daemon, the asset itself is named
after the file alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from watchd.base.names import shown
from watchd.watch.filters import PathFilter

SKIPPED_FOLDERS = frozenset({"ascmhl"})  # compared case-insensitively; at any depth


class UploadSourceError(Exception):
    """A path given to `watchd upload` cannot be uploaded; the message says which and why."""


@dataclass(frozen=True)
class SourceFile:
    """One file to upload."""

    path: Path  # absolute
    relpath: str  # below the parent of the named file or folder, "/"-separated
    size: int


@dataclass(frozen=True)
class Sources:
    """The files to upload, in a stable order, and what the filters left out."""

    files: list[SourceFile]
    skipped: int  # files inside named folders that were left out
    filtered: bool = False  # --include or --exclude given (else only junk is left out)

    @property
    def total_bytes(self) -> int:
        return sum(file.size for file in self.files)


def collect(paths: Sequence[Path], include: Sequence[str], exclude: Sequence[str]) -> Sources:
    """Return the files named in ``paths`` and the wanted files below the folders named.

    A file named outright is sent whatever the filters say. Raises
    UploadSourceError for a path that is neither file nor folder, a folder
    that cannot be read, or a folder with nothing to upload in it.
    """
    wanted = PathFilter(include or ("*",), exclude)
    filtered = bool(include or exclude)
    found: dict[Path, SourceFile] = {}  # by absolute path: a file named twice goes once
    skipped = 0
    for given in paths:
        path = given.resolve()
        if path.is_file():
            found.setdefault(path, SourceFile(path, path.name, path.stat().st_size))
        elif path.is_dir():
            files, left_out = _walk(path, wanted)
            if not files:
                raise UploadSourceError(
                    f"{shown(given)} has no files to upload"
                    + (f" ({left_out_by(left_out, filtered)})" if left_out else "")
                )
            skipped += left_out
            for file in files:
                found.setdefault(file.path, file)
        else:
            raise UploadSourceError(f"{shown(given)} is not a file or folder")
    return Sources(sorted(found.values(), key=lambda f: f.relpath), skipped, filtered)


def _walk(folder: Path, wanted: PathFilter) -> tuple[list[SourceFile], int]:
    """Return the wanted files below ``folder`` and how many others were left out."""
    files: list[SourceFile] = []
    skipped = 0

    def unreadable(error: OSError) -> None:
        raise UploadSourceError(
            f"cannot read the folder {shown(error.filename or folder)} ({error.strerror}); "
            "nothing was uploaded"
        )

    for top, dirs, names in os.walk(folder, onerror=unreadable):
        below = Path(top).relative_to(folder).as_posix()
        below = "" if below == "." else below + "/"
        dirs[:] = sorted(
            d for d in dirs if d.lower() not in SKIPPED_FOLDERS and wanted.wants_dir(below + d)
        )
        for name in sorted(names):
            path = Path(top, name)
            if not wanted.wants_file(below + name) or not path.is_file():
                skipped += 1
                continue
            relpath = f"{folder.name}/{below}{name}"
            files.append(SourceFile(path, relpath, path.stat().st_size))
    return files, skipped


def describe(sources: Sources) -> str:
    """Return the line shown before an upload starts: how many files, how much data."""
    count = len(sources.files)
    line = f"{count} file{'s' if count != 1 else ''}, {human_size(sources.total_bytes)}"
    if sources.skipped:
        line += f" ({left_out_by(sources.skipped, sources.filtered)})"
    return line


def left_out_by(count: int, filtered: bool) -> str:
    """Say how many files were left out, and why: junk, hidden, or the user's filters."""
    why = "hidden, junk or special files" + (", or not matching --include/--exclude" * filtered)
    return f"{count} left out: {why}"


def human_size(size: int) -> str:
    """Return ``size`` as people read it in file managers (decimal units: ``1.5 GB``)."""
    if size < 1000:
        return "1 byte" if size == 1 else f"{size} bytes"
    value, unit = size / 1000, "kB"
    for larger in ("MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, larger
    return f"{value:.1f} {unit}"
