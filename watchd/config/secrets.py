"""Reading the Flow Capture API key from where the config says, never from the YAML.

Sources, in order: ``flowcapture.api_key_file`` (refused unless only its owner
may read it), ``flowcapture.api_key_env``, else the systemd credential
``api_key`` (``LoadCredential=api_key:...`` puts it in ``$CREDENTIALS_DIRECTORY``),
and outside the service the file that credential is loaded from.
No message or repr ever contains the key itself; the API client that receives it
registers it with the log redaction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from watchd.base.secret_files import SecretFileProblem, read_secret_file

if TYPE_CHECKING:  # (the schema loads pydantic: not needed to read a key)
    from watchd.config.schema import FlowCaptureSettings

CREDENTIAL_NAME = "api_key"  # systemd: LoadCredential=api_key:/path/to/key
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
# deploy/install.sh writes the key here (root only) and the unit loads it as the
# credential; commands run by root outside the service read it directly.
INSTALLED_KEY_FILE = Path("/etc/watchd/api_key")
MAX_KEY_BYTES = 4096  # an API key is short; a big file is the wrong file


class ApiKeyError(Exception):
    """The API key could not be read; the message names the source and the fix."""


def read_api_key(settings: FlowCaptureSettings, environ: Mapping[str, str] | None = None) -> str:
    """Return the API key from the source ``settings`` name (see the module docstring).

    ``environ`` defaults to ``os.environ``. Raises ApiKeyError naming what was tried.
    """
    env = os.environ if environ is None else environ
    if settings.api_key_file is not None:
        key = _from_file(settings.api_key_file, check_mode=True)
    elif settings.api_key_env is not None:
        key = _from_env(settings.api_key_env, env)
    else:
        key = _from_credentials(env)
    return key  # FlowCaptureClient registers it with the log redaction


def describe_source(settings: FlowCaptureSettings, environ: Mapping[str, str] | None = None) -> str:
    """Return where the API key is read from, for messages (never the key)."""
    env = os.environ if environ is None else environ
    if settings.api_key_file is not None:
        return f"file {settings.api_key_file}"
    if settings.api_key_env is not None:
        return f"environment variable {settings.api_key_env}"
    directory = env.get(CREDENTIALS_ENV)
    where = f" in {directory}" if directory else ""
    return f"systemd credential {CREDENTIAL_NAME!r}{where}"


def _from_file(path: Path, *, check_mode: bool) -> str:
    what = f"API key file {path}"
    try:
        raw = read_secret_file(path, limit=MAX_KEY_BYTES, check_mode=check_mode)
    except FileNotFoundError:
        raise ApiKeyError(f"{what} does not exist") from None
    except OSError as exc:
        raise ApiKeyError(f"cannot read {what}: {exc.strerror}") from None
    except SecretFileProblem as problem:
        raise ApiKeyError(f"{what} {problem}") from None
    return _clean(raw, what)


def _from_env(name: str, env: Mapping[str, str]) -> str:
    value = env.get(name)
    if value is None:
        raise ApiKeyError(f"environment variable {name} (flowcapture.api_key_env) is not set")
    return _clean(value.encode(), f"environment variable {name}")


def _from_credentials(env: Mapping[str, str]) -> str:
    directory = env.get(CREDENTIALS_ENV)
    tried = "flowcapture.api_key_file and flowcapture.api_key_env are not set, and "
    if not directory and INSTALLED_KEY_FILE.exists():
        # An operator's command outside the service: read the file the unit loads.
        return _from_file(INSTALLED_KEY_FILE, check_mode=True)
    if not directory:
        raise ApiKeyError(
            f"no API key: {tried}${CREDENTIALS_ENV} is not set (no systemd credential "
            f"{CREDENTIAL_NAME!r}; add LoadCredential={CREDENTIAL_NAME}:FILE to the unit)"
        )
    path = Path(directory) / CREDENTIAL_NAME
    if not path.exists():
        raise ApiKeyError(f"no API key: {tried}the systemd credential {path} does not exist")
    # systemd makes credentials readable by the service alone; their mode is not ours to judge.
    return _from_file(path, check_mode=False)


def _clean(raw: bytes, source: str) -> str:
    try:
        key = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ApiKeyError(f"{source} is not UTF-8 text") from None
    if not key:
        raise ApiKeyError(f"{source} is empty")
    if any(c.isspace() for c in key):
        raise ApiKeyError(f"{source} holds more than one word or line; it should hold the key only")
    return key
