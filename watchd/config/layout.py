"""How drop folders relate to each other and to watchd's own files.

Configs that would loop or collide are refused at load time: two folders with
the same name, a drop folder that another one also sees (the same path, or one
inside a recursive other), an archive folder whose files a drop folder would
pick up again, and the state or log directory inside a drop folder. A place
inside a drop folder is harmless when that folder does not see it: it is not
recursive, the place is hidden, or the folder's exclude globs cover it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from watchd.config.folder_schema import FolderConfig
from watchd.config.problems import UNKNOWN_ORIGIN, KeyPath, Origin, Problem
from watchd.config.schema import Config
from watchd.watch.filters import PathFilter

# A file name no name-only glob matches unless it matches every name: tells
# whether exclude globs cover everything below a directory.
PROBE_NAME = "\x00probe"


def check_folders(folders: list[FolderConfig]) -> list[Problem]:
    """Return the problems between drop folders: names, overlaps, archives that loop."""
    return [
        *_duplicate_names(folders),
        *_overlapping_folders(folders),
        *_looping_archives(folders),
    ]


def check_own_files(config: Config) -> list[Problem]:
    """Return problems of watchd's state and log directories lying inside a drop folder."""
    return list(_own_files_inside(config))


def relative_inside(inner: Path, outer: Path) -> PurePosixPath | None:
    """Return ``inner`` relative to ``outer`` when it is ``outer`` or below it, else None.

    Compared both as written and with symlinks resolved, so an alias is caught.
    """
    pairs = ((inner, outer), (Path(os.path.realpath(inner)), Path(os.path.realpath(outer))))
    for candidate, base in pairs:
        if candidate.is_relative_to(base):
            return PurePosixPath(candidate.relative_to(base).as_posix())
    return None


def sees(folder: FolderConfig, relative: PurePosixPath) -> bool:
    """Return True if ``folder`` would pick up files put below ``relative`` (inside it)."""
    if relative == PurePosixPath("."):
        return True
    if not folder.recursive:
        return False
    probe = f"{relative.as_posix()}/{PROBE_NAME}"
    return PathFilter(("*",), folder.exclude).wants_file(probe)


def _origin(folder: FolderConfig) -> Origin:
    return folder.origin or UNKNOWN_ORIGIN


def _where(folder: FolderConfig) -> str:
    origin = folder.origin
    return (
        f"drop folder {folder.name!r} ({folder.path}, from {origin.file})"
        if origin
        else (f"drop folder {folder.name!r} ({folder.path})")
    )


def _exclude_hint(relative: PurePosixPath) -> str:
    return f"exclude: ['{relative.as_posix()}/*']"


def _duplicate_names(folders: list[FolderConfig]) -> Iterator[Problem]:
    first: dict[str, FolderConfig] = {}
    for folder in folders:
        other = first.setdefault(folder.name, folder)
        if other is not folder:
            where = f" in {other.origin.file}" if other.origin else ""
            yield _origin(folder).problem(
                ("name",),
                f"name {folder.name!r} is already used by the folder{where}; "
                "names must be unique (set name: to tell them apart)",
            )


def _overlapping_folders(folders: list[FolderConfig]) -> Iterator[Problem]:
    for index, outer in enumerate(folders):
        for inner in folders[index + 1 :]:
            for a, b in ((outer, inner), (inner, outer)):
                relative = relative_inside(b.path, a.path)
                if relative is None or not sees(a, relative):
                    continue
                if relative == PurePosixPath("."):
                    message = f"same path as {_where(a)}; each file would be uploaded twice"
                else:
                    message = (
                        f"inside {_where(a)}, which sees it too; move it, set "
                        f"recursive: false there, or add {_exclude_hint(relative)} there"
                    )
                yield _origin(b).problem(("path",), message)
                break


def _looping_archives(folders: list[FolderConfig]) -> Iterator[Problem]:
    key: KeyPath = ("after_upload", "move_to")
    for folder in folders:
        archive = folder.archive
        if archive is None:
            continue
        for drop in folders:
            relative = relative_inside(archive, drop.path)
            if relative is None or not sees(drop, relative):
                continue
            if relative == PurePosixPath("."):
                message = f"archive folder {archive} is the drop folder {drop.name!r} itself"
            else:
                owner = "its own drop folder" if drop is folder else _where(drop)
                message = (
                    f"archive folder {archive} is inside {owner}, so archived files would be "
                    f"uploaded again; move it outside, or add {_exclude_hint(relative)}"
                    + ("" if drop is folder else " there")
                )
            yield _origin(folder).problem(key, message)


def _own_files_inside(config: Config) -> Iterator[Problem]:
    origin = config.origin or UNKNOWN_ORIGIN
    own: list[tuple[KeyPath, str, Path]] = [(("state_dir",), "state directory", config.state_dir)]
    if config.log.file is not None:
        own.append((("log", "file"), "log file", config.log.file.parent))
    for key, what, place in own:
        for drop in config.folders:
            relative = relative_inside(place, drop.path)
            if relative is not None and sees(drop, relative):
                yield origin.problem(
                    key, f"the {what} is inside {_where(drop)}, which would upload it"
                )
