"""Walking a drop folder for candidate files (the scan at start and each rescan).

Symlinked folders are not followed (no loops). A symlink to a file inside the
drop folder stands for its target, so the file is uploaded once whichever name
is seen first; a link pointing outside the drop folder is skipped.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchd.watch.filters import PathFilter

log = logging.getLogger(__name__)


# Told of a path left out: (path, why, whether it is a problem rather than a rule's choice).
Skip = Callable[[Path, str, bool], None]


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
    on_skip: Skip | None = None,
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
    try:
        if path.is_symlink():
            target = path.resolve(strict=True)
            if not target.is_relative_to(root):
                if on_skip is not None:
                    on_skip(path, f"symlink points outside the drop folder, to {target}", False)
                return None
            path, relpath = target, target.relative_to(root).as_posix()
            if not path_filter.wants_file(relpath):
                return None
        status = path.stat()
    except FileNotFoundError:
        return None  # vanished, or a dangling link
    except RuntimeError:  # Python 3.11's "Symlink loop" (3.13 raises OSError ELOOP)
        _problem(on_skip, path, "symlink loop: it points back to itself through other links")
        return None
    except OSError as exc:
        reason = "symlink loop" if exc.errno == errno.ELOOP else f"cannot read it: {exc.strerror}"
        _problem(on_skip, path, reason)
        return None
    if not _is_regular(status):
        return None
    return Candidate(path=path, relpath=relpath, stat=status)


def scan(
    root: Path,
    *,
    recursive: bool,
    path_filter: PathFilter,
    on_skip: Skip | None = None,
) -> Iterator[Candidate]:
    """Yield the wanted files below ``root`` (absolute, resolved).

    Raises OSError if ``root`` itself cannot be listed; an unreadable
    subfolder or file is reported through ``on_skip`` and the walk goes on.
    """
    os.listdir(root)  # fail loudly if the drop folder itself is unreadable

    def walk_error(error: OSError) -> None:
        _problem(on_skip, Path(error.filename), f"cannot list this folder: {error.strerror}")

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


def _problem(on_skip: Skip | None, path: Path, reason: str) -> None:
    if on_skip is not None:
        on_skip(path, reason, True)


def _is_regular(status: os.stat_result) -> bool:
    return stat.S_ISREG(status.st_mode)
