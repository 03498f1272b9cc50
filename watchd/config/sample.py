"""Commented sample config files, written from the schema's descriptions.

Each key appears with its description as a comment and its example (where the
schema gives one) or default; keys marked ``SAMPLE_COMMENTED`` are shown but
commented out. Callers (``deploy/``, ``watchd demo``) pass their own values
by dotted key: ``sample_config({"flowcapture.email": "me@example.com"})``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from watchd.config.bandwidth_syntax import format_bandwidth, parse_bandwidth
from watchd.config.folder_schema import FolderConfig
from watchd.config.schema import Config, model_in
from watchd.config.units import (
    format_duration,
    format_rate,
    format_size,
    parse_duration,
    parse_rate,
    parse_size,
)

_FORMATTERS: dict[Callable[[Any], Any], Callable[[Any], str]] = {
    parse_duration: format_duration,
    parse_size: format_size,
    parse_rate: format_rate,
    parse_bandwidth: format_bandwidth,
}
CONFIG_HEADER = """\
# watchd.yaml: the watchd daemon's configuration.
# Every key is shown with its default or an example; `watchd check-config` checks it.
# Durations: 10s, 5m, 1h30m. Sizes: 16MiB, 5MB. Rates: 40MB/s or unlimited.
# Relative paths are relative to this file's directory.
# The API key never goes here: use api_key_file, api_key_env or the systemd credential.
"""
FOLDER_HEADER = """\
# One drop folder (a file in folders_dir, or an item of `folders:` in watchd.yaml).
"""


def sample_config(values: Mapping[str, Any] | None = None) -> str:
    """Return a commented ``watchd.yaml``; ``values`` replace keys by dotted path."""
    lines = [CONFIG_HEADER]
    _render(Config, values or {}, (), 0, False, lines)
    return "\n".join(lines) + "\n"


def sample_folder(values: Mapping[str, Any] | None = None) -> str:
    """Return a commented drop folder file; ``values`` replace keys by dotted path."""
    lines = [FOLDER_HEADER]
    _render(FolderConfig, values or {}, (), 0, False, lines)
    return "\n".join(lines) + "\n"


def _render(
    model: type[BaseModel],
    values: Mapping[str, Any],
    path: tuple[str, ...],
    depth: int,
    commented: bool,
    out: list[str],
) -> None:
    pad = "  " * depth
    for name, field in model.model_fields.items():
        key = ".".join((*path, name))
        given = key in values and values[key] is not None
        dropped = key in values and values[key] is None  # the caller wants it commented out
        hidden = commented or dropped or (_is_commented(field) and not given)
        mark = "# " if hidden else ""
        out.append(f"{pad}# {field.description}{'' if given else _default_note(field)}")
        sub = model_in(field.annotation)
        if not given and sub is not None and _is_block(field):
            out.append(f"{pad}{mark}{name}:")
            _render(sub, values, (*path, name), depth + 1, hidden, out)
            continue
        text = _yaml(values[key]) if given else _sample_value(field)
        out.append(f"{pad}{mark}{name}: {text}")


def _is_commented(field: FieldInfo) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get("sample") == "commented"


def _is_block(field: FieldInfo) -> bool:
    """True for a section written as nested keys (not a list, not a scalar-form default)."""
    if "list" in str(field.annotation):
        return False
    return field.is_required() or field.default_factory is not None or field.default is None


def _default_note(field: FieldInfo) -> str:
    """Return " (default: X)" when the sample shows an example instead of a set default."""
    if not field.examples or field.is_required() or field.default_factory is not None:
        return ""
    if _is_commented(field):
        return ""
    if field.default is None:
        return " (default: none; this sample sets it)"
    return f" (default: {_default_value(field)})"


def _sample_value(field: FieldInfo) -> str:
    if field.examples:
        return _yaml(field.examples[0])
    if field.is_required():
        return "null"
    return _default_value(field)


def _default_value(field: FieldInfo) -> str:
    default = field.get_default(call_default_factory=True)
    for meta in field.metadata:
        formatter = _FORMATTERS.get(getattr(meta, "func", None))  # type: ignore[arg-type]
        if formatter is not None:
            return _yaml(formatter(default))
    return _yaml(default)


def _yaml(value: Any) -> str:
    """Return ``value`` as one line of YAML (flow style)."""
    if isinstance(value, Path):
        value = str(value)
    elif isinstance(value, BaseModel):
        value = str(value)  # models with a scalar form (after_upload: keep)
    text = yaml.safe_dump(value, default_flow_style=True, width=1000, allow_unicode=True)
    return text.strip().removesuffix("...").strip()
