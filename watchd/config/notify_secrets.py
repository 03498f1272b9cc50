"""The SMTP password of an email notification target, never from the YAML.

Sources, in order: the target's ``password_file`` (refused unless only its
owner may read it, as the API key file), else the systemd credential
``watchd-smtp-password`` (``LoadCredential=watchd-smtp-password:FILE``).
Messages name the source, never the password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from watchd.base.secret_files import SecretFileProblem, read_secret_file
from watchd.config.notify_schema import DEFAULT_SMTP_CREDENTIAL, NotifyTarget
from watchd.config.secrets import CREDENTIALS_ENV, MAX_KEY_BYTES


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
    what = f"SMTP password file {path}"
    try:
        raw = read_secret_file(path, limit=MAX_KEY_BYTES, check_mode=check_mode)
    except OSError as exc:
        raise PasswordError(f"cannot read {what}: {exc.strerror}") from None
    except SecretFileProblem as problem:
        raise PasswordError(f"{what} {problem}") from None
    try:
        password = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise PasswordError(f"{what} is not UTF-8 text") from None
    if not password:
        raise PasswordError(f"{what} is empty")
    return password
