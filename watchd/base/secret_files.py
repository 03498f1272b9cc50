"""Reading a secret from a file (an API key, a password): private, regular, small.

One place for the checks every secret file gets: the file is opened once and
checked as opened (not by name, which may change meanwhile), must be a
regular file, must not be readable by group or others unless the caller
vouches for it (systemd credentials), and must be smaller than a limit (a big
file is the wrong file). Callers turn the problems into their own errors,
naming the file as their users know it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_MODE_MASK = 0o077  # no permission at all for group or others


class SecretFileProblem(Exception):
    """What is wrong with a secret file, worded to follow its description.

    For example "is not a regular file": callers write "{what} {problem}".
    """


def read_secret_file(path: Path, *, limit: int, check_mode: bool = True) -> bytes:
    """Return the bytes of the secret file ``path``.

    Raises OSError when it cannot be opened, SecretFileProblem when it is not
    a regular file, is readable by group or others (with ``check_mode``), or
    holds more than ``limit`` bytes.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())  # of the file opened, not of what the name points to now
        if not stat.S_ISREG(info.st_mode):
            raise SecretFileProblem("is not a regular file")
        if check_mode and info.st_mode & PRIVATE_MODE_MASK:
            raise SecretFileProblem(
                f"is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
                f"run: chmod 600 {path}"
            )
        raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise SecretFileProblem(f"is larger than {limit} bytes")
    return raw
