"""What happens to a source file after its asset is done: keep, delete or move.

Nothing is moved or deleted before the asset is done, and never a file whose
fingerprint changed since it was uploaded (that is new content, not the file
we sent). A move never overwrites: a name clash gets a numbered suffix. A
move to another filesystem copies, flushes to disk, checks the copy, and only
then removes the source, so a crash mid-move leaves the source intact.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
from pathlib import Path

from watchd.base.fileversion import Fingerprint
from watchd.base.stop import Stopped, StopToken
from watchd.failpoints import failpoint

log = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 4 * 1024 * 1024  # read/write size when copying across filesystems
MAX_NAME_SUFFIX = 10_000  # give up finding a free name after this many tries
TEMP_PREFIX = ".watchd-moving-"  # hidden, so a watched archive folder ignores it


class PostUploadError(Exception):
    """The post-upload action could not be carried out; the source is untouched."""


def source_unchanged(path: Path, expected: Fingerprint) -> bool:
    """Return True if ``path`` still has the fingerprint it had when it was uploaded."""
    try:
        return Fingerprint.of(path.stat()).same_version(expected)
    except FileNotFoundError:
        return False


def delete_source(path: Path) -> None:
    """Delete the uploaded source file."""
    path.unlink()
    _fsync_dir(path.parent)


def move_source(
    path: Path, archive_root: Path, relpath: str, stop: StopToken | None = None
) -> Path:
    """Move ``path`` to ``archive_root/relpath`` (a free name); return where it went.

    A copy across filesystems ends early when ``stop`` is set (Stopped is
    raised, the partial copy removed, the source left in place).
    """
    target_dir = (archive_root / relpath).parent
    target_dir.mkdir(parents=True, exist_ok=True)
    wanted = archive_root / relpath
    earlier = _earlier_copy(path, wanted)
    if earlier is not None:  # a move interrupted after the copy landed: finish it
        path.unlink()
        _fsync_dir(path.parent)
        return earlier
    try:
        return _link_into_place(path, wanted, remove_source=True)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    return _copy_across(path, wanted, stop)


def moved_earlier(archive_root: Path, relpath: str, expected: Fingerprint) -> Path | None:
    """Return where a move of the file ``expected`` describes landed, if one did.

    For a move done before a restart, whose end was not recorded: the source is
    gone, and the archive holds it at ``relpath`` or a numbered name. A link
    keeps the inode; a copy across filesystems keeps the size and the mtime.
    """
    wanted = archive_root / relpath
    for attempt in range(MAX_NAME_SUFFIX):
        candidate = _free_name(wanted, attempt)
        try:
            found = Fingerprint.of(candidate.stat())
        except FileNotFoundError:
            return None
        if found.size == expected.size and (
            found.inode == expected.inode or found.mtime_ns == expected.mtime_ns
        ):
            return candidate
    return None


def _free_name(wanted: Path, attempt: int) -> Path:
    if attempt == 0:
        return wanted
    return wanted.with_name(f"{wanted.stem}_{attempt}{wanted.suffix}")


def _earlier_copy(source: Path, wanted: Path) -> Path | None:
    """Return a name at the target that already holds this file (same inode or same bytes)."""
    size = source.stat().st_size
    for attempt in range(MAX_NAME_SUFFIX):
        candidate = _free_name(wanted, attempt)
        try:
            stat = candidate.stat()
        except FileNotFoundError:
            return None
        if os.path.samefile(source, candidate):
            return candidate
        if stat.st_size == size and _md5_of(candidate) == _md5_of(source):
            return candidate
    return None


def _link_into_place(source: Path, wanted: Path, *, remove_source: bool) -> Path:
    """Hard-link ``source`` at the first free name (link never overwrites)."""
    for attempt in range(MAX_NAME_SUFFIX):
        candidate = _free_name(wanted, attempt)
        try:
            os.link(source, candidate)
        except FileExistsError:
            continue
        _fsync_dir(candidate.parent)
        failpoint("move:after-link")  # the archive has it, the source is still there
        if remove_source:
            source.unlink()
            _fsync_dir(source.parent)
        return candidate
    raise PostUploadError(f"no free name for {wanted} after {MAX_NAME_SUFFIX} tries")


def _copy_across(source: Path, wanted: Path, stop: StopToken | None) -> Path:
    temp = wanted.with_name(f"{TEMP_PREFIX}{wanted.name}")
    try:
        source_md5 = _copy_and_hash(source, temp, stop)
    except (OSError, Stopped):
        temp.unlink(missing_ok=True)  # no hidden partial copy is left behind
        raise
    if _md5_of(temp) != source_md5 or temp.stat().st_size != source.stat().st_size:
        temp.unlink(missing_ok=True)
        raise PostUploadError(f"the copy of {source} at {temp} did not match; source kept")
    final = _link_into_place(temp, wanted, remove_source=True)
    source.unlink()
    _fsync_dir(source.parent)
    log.debug("copied %s to %s across filesystems", source, final)
    return final


def _copy_and_hash(source: Path, dest: Path, stop: StopToken | None) -> str:
    digest = hashlib.md5()  # noqa: S324 - a copy check, not security
    with source.open("rb") as src, dest.open("wb") as out:
        while chunk := src.read(COPY_CHUNK_BYTES):
            if stop is not None:
                stop.check()
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    shutil.copystat(source, dest)
    return digest.hexdigest()


def _md5_of(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - a copy check, not security
    with path.open("rb") as handle:
        while chunk := handle.read(COPY_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (SMB) cannot fsync a directory
    finally:
        os.close(fd)
