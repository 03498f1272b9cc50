"""Walking a drop folder for candidate files (the scan at start and each rescan).

Symlinked folders are not followed (no loops). A symlink to a file inside the
drop folder stands for its target, so the file is uploaded once whichever name
is seen first; a link pointing outside the drop folder is skipped.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchd.watch.filters import PathFilter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """A file found in a drop folder."""

    path: Path  # absolute path of the file itself (a symlink's target)
    relpath: str  # path below the drop folder, with / separators
    stat: os.stat_result


def resolve_candidate(
    root: Path,
    path: Path,
    path_filter: PathFilter,
    on_skip: Callable[[Path, str], None] | None = None,
) -> Candidate | None:
    """Return the candidate for ``path`` in the drop folder ``root``, or None if not wanted.

    ``root`` must be absolute and resolved. Returns None for folders, junk,
    filtered-out names, vanished files and links pointing outside ``root``.
    """
    try:
        relpath = path.relative_to(root).as_posix()
    except ValueError:
        return None
    if not path_filter.wants_file(relpath):
        return None
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root):
            if on_skip is not None:
                on_skip(path, f"symlink points outside the drop folder, to {target}")
            return None
        path, relpath = target, target.relative_to(root).as_posix()
        if not path_filter.wants_file(relpath):
            return None
    try:
        status = path.stat()
    except OSError:
        return None  # vanished, or a dangling link
    if not _is_regular(status):
        return None
    return Candidate(path=path, relpath=relpath, stat=status)


def scan(
    root: Path,
    *,
    recursive: bool,
    path_filter: PathFilter,
    on_skip: Callable[[Path, str], None] | None = None,
) -> Iterator[Candidate]:
    """Yield the wanted files below ``root`` (absolute, resolved).

    Raises OSError if ``root`` itself cannot be listed; unreadable subfolders
    are logged and skipped.
    """
    os.listdir(root)  # fail loudly if the drop folder itself is unreadable

    def walk_error(error: OSError) -> None:
        log.warning("cannot list %s: %s", error.filename, error.strerror)

    for dirpath, dirnames, filenames in os.walk(root, onerror=walk_error):
        here = Path(dirpath)
        if recursive:
            dirnames[:] = [
                d
                for d in dirnames
                if path_filter.wants_dir((here / d).relative_to(root).as_posix())
            ]
        else:
            dirnames[:] = []
        for name in filenames:
            candidate = resolve_candidate(root, here / name, path_filter, on_skip)
            if candidate is not None:
                yield candidate


def _is_regular(status: os.stat_result) -> bool:
    return stat.S_ISREG(status.st_mode)
