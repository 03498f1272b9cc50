"""Field types shared by the config schema: paths, names, URLs, addresses.

Each is an annotated type whose validator says in one line what it expected.
Relative paths resolve against the directory of the file that holds them
(passed as ``base_dir`` in the validation context), so a config means the same
thing whatever the daemon's working directory is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from watchd.config.units import parse_duration, parse_size

MAX_NAME_CHARS = 100  # folder names appear in logs and batch names; keep them short
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


# Field(json_schema_extra=...): the sample config shows this key commented out.
SAMPLE_COMMENTED: dict[str, Any] = {"sample": "commented"}


class Model(BaseModel):
    """Base of every config model: unknown keys are errors, values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def absolute_path(value: Any, base_dir: Path | None) -> Path:
    """Return ``value`` as a normalised absolute path, ``~`` expanded, relative to ``base_dir``.

    Raises ValueError if ``value`` is not a path; without ``base_dir``, the working directory.
    """
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise ValueError(f"{value!r} is not a path")
    path = Path(str(value).strip()).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return Path(os.path.normpath(path))


def _resolve_path(value: Any, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    return absolute_path(value, Path(base) if base is not None else None)


def _name(value: Any) -> Any:
    if not isinstance(value, str):
        return value  # the str validator reports the type
    name = value.strip()
    if not name:
        raise ValueError("must not be empty")
    if "/" in name or _CONTROL_RE.search(name):
        raise ValueError(f"{name!r} must not contain '/' or control characters")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"must be at most {MAX_NAME_CHARS} characters")
    return name


def _non_empty(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL, e.g. https://api.moxion.io")
    return value.strip().rstrip("/")


def _email(value: str) -> str:
    local, _, domain = value.strip().partition("@")
    if not local or not domain or any(c.isspace() for c in value.strip()):
        raise ValueError(f"{value!r} is not an email address")
    return value.strip()


def _env_name(value: str) -> str:
    if not _ENV_NAME_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name, e.g. WATCHD_API_KEY")
    return value


def _listen(value: str) -> str:
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT, e.g. 127.0.0.1:9464")
    return value.strip()


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


ConfigPath = Annotated[Path, BeforeValidator(_resolve_path)]
"""An absolute path; relative ones resolve against the config file's directory."""
StrictInt = Annotated[int, Field(strict=True)]
"""An integer written as one (not true, not 2.5, not "2")."""
StrictBool = Annotated[bool, Field(strict=True)]
"""true or false, nothing else."""
Name = Annotated[str, BeforeValidator(_name)]
"""A short name without '/'."""
NonEmptyStr = Annotated[str, BeforeValidator(_non_empty)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Email = Annotated[str, AfterValidator(_email)]
EnvName = Annotated[str, AfterValidator(_env_name)]
ListenAddress = Annotated[str, AfterValidator(_listen)]
LowerStr = BeforeValidator(_lower)


def between(low: float, high: float, show: Callable[[Any], str]) -> AfterValidator:
    """Return a validator refusing values outside ``low..high``, written with ``show``."""

    def check(value: Any) -> Any:
        if not low <= value <= high:
            raise ValueError(f"must be between {show(low)} and {show(high)}, not {show(value)}")
        return value

    return AfterValidator(check)


def at_least(low: float, show: Callable[[Any], str]) -> AfterValidator:
    """Return a validator refusing values below ``low``, written with ``show``."""

    def check(value: Any) -> Any:
        if value < low:
            raise ValueError(f"must be at least {show(low)}, not {show(value)}")
        return value

    return AfterValidator(check)


# Units as people write them (units.py), for the schema.
Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, from ``10s``, ``5m``, ``1h30m``, ``500ms`` or a plain number of seconds."""
Size = Annotated[int, BeforeValidator(parse_size)]
"""Bytes, from ``16MiB``, ``5MB`` or a plain number of bytes."""
