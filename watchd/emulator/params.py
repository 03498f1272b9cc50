"""Reading typed request parameters; every failure is a 400 naming the parameter."""

from __future__ import annotations

from typing import Any

from watchd.emulator import wire
from watchd.emulator.errors import bad_param


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def req_int(params: dict[str, Any], name: str) -> int:
    """Return a required integer id (digit strings accepted)."""
    if params.get(name) is None:
        raise bad_param(name, "is required")
    value = _as_int(params[name])
    if value is None:
        raise bad_param(name, "must be an integer")
    return value


def opt_int(params: dict[str, Any], name: str) -> int | None:
    """Return an optional integer id."""
    return None if params.get(name) is None else req_int(params, name)


def req_str(params: dict[str, Any], name: str) -> str:
    """Return a required non-empty string."""
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise bad_param(name, "is required and must be a non-empty string")
    return value


def opt_str(params: dict[str, Any], name: str, default: str | None = None) -> str | None:
    """Return an optional string."""
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_param(name, "must be a string")
    return value


def opt_bool(params: dict[str, Any], name: str, default: bool = False) -> bool:
    """Return an optional boolean."""
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_param(name, "must be true or false")
    return value


def opt_float(params: dict[str, Any], name: str, default: float = 0.0) -> float:
    """Return an optional number."""
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_param(name, "must be a number")
    return float(value)


def req_list(params: dict[str, Any], name: str) -> list[Any]:
    """Return a required non-empty list."""
    value = params.get(name)
    if not isinstance(value, list) or not value:
        raise bad_param(name, "is required and must be a non-empty list")
    return value


def str_list(params: dict[str, Any], name: str) -> list[str]:
    """Return a required non-empty list of strings."""
    values = req_list(params, name)
    if not all(isinstance(v, str) for v in values):
        raise bad_param(name, "must be a list of strings")
    return values


def int_list(params: dict[str, Any], name: str) -> list[int]:
    """Return a required non-empty list of integer ids."""
    values = [_as_int(v) for v in req_list(params, name)]
    if any(v is None for v in values):
        raise bad_param(name, "must be a list of integer ids")
    return [v for v in values if v is not None]


def asset_ref(params: dict[str, Any], name: str) -> int | str:
    """Return an asset reference: an integer id or a UUID string."""
    value = params.get(name)
    if value is None:
        raise bad_param(name, "is required (an asset id or uuid)")
    if isinstance(value, str) and wire.UUID_RE.match(value):
        return value
    as_int = _as_int(value)
    if as_int is None:
        raise bad_param(
            name, "must be an asset id or a uuid like d0e07781-da0f-4d86-9f99-9ebaca8002ef"
        )
    return as_int


def opt_uuid(params: dict[str, Any], name: str) -> str | None:
    """Return an optional asset UUID in the 8-4-4-4-12 form with dashes."""
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not wire.UUID_RE.match(value):
        raise bad_param(name, "must be a uuid like d0e07781-da0f-4d86-9f99-9ebaca8002ef")
    return value.lower()
