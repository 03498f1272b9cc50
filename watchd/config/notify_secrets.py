"""The SMTP password of an email notification target, never from the YAML.

Sources, in order: the target's ``password_file`` (refused unless only its
owner may read it, as the API key file), else the systemd credential
``watchd-smtp-password`` (``LoadCredential=watchd-smtp-password:FILE``).
Messages name the source, never the password.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from watchd.config.notify_schema import DEFAULT_SMTP_CREDENTIAL, NotifyTarget
from watchd.config.secrets import CREDENTIALS_ENV, MAX_KEY_BYTES, PRIVATE_MODE_MASK


class PasswordError(Exception):
    """The SMTP password could not be read; the message names the source and the fix."""


def read_smtp_password(
    target: NotifyTarget, environ: Mapping[str, str] | None = None
) -> str | None:
    """Return the password of ``target``'s SMTP login (None: the target logs in as no one).

    Raises PasswordError naming what was tried.
    """
    if target.user is None:
        return None
    if target.password_file is not None:
        return _read(target.password_file, check_mode=True)
    directory = (os.environ if environ is None else environ).get(CREDENTIALS_ENV)
    credential = Path(directory) / DEFAULT_SMTP_CREDENTIAL if directory else None
    if credential is None or not credential.is_file():
        raise PasswordError(
            f"no SMTP password for {target.describe()}: password_file is not set and there is "
            f"no systemd credential {DEFAULT_SMTP_CREDENTIAL!r} (add "
            f"LoadCredential={DEFAULT_SMTP_CREDENTIAL}:FILE to the unit)"
        )
    return _read(credential, check_mode=False)  # systemd makes it the service's alone


def _read(path: Path, *, check_mode: bool) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise PasswordError(f"cannot read SMTP password file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise PasswordError(f"SMTP password file {path} is not a regular file")
        if check_mode and info.st_mode & PRIVATE_MODE_MASK:
            raise PasswordError(
                f"SMTP password file {path} is readable by others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
            )
        raw = stream.read(MAX_KEY_BYTES + 1)
    if len(raw) > MAX_KEY_BYTES:
        raise PasswordError(f"SMTP password file {path} is larger than {MAX_KEY_BYTES} bytes")
    try:
        password = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise PasswordError(f"SMTP password file {path} is not UTF-8 text") from None
    if not password:
        raise PasswordError(f"SMTP password file {path} is empty")
    return password
