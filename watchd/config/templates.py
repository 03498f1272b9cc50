"""Batch name templates: ``{folder}``, ``{subdir}``, ``{date:%Y-%m-%d}``, ``{host}``.

The config checks a template once at start-up (:func:`check_batch_template`);
the batch code renders it per file (:func:`render_batch_name`). Both live here
so the placeholders are defined in one place.
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass

from watchd.base.names import plain_text

PLACEHOLDERS = ("folder", "subdir", "date", "host")
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
MAX_BATCH_NAME_CHARS = 200  # long enough for any sane name; catches runaway templates
_FORMATTER = string.Formatter()


@dataclass(frozen=True)
class BatchNameValues:
    """What a template can refer to, for one file."""

    folder: str  # the drop folder's name
    subdir: str  # first path component below the drop folder ("" for files at its top)
    date: dt.datetime  # when the file was queued (local time)
    host: str  # this machine's short host name


def _fields(template: str) -> list[tuple[str, str, str | None]]:
    """Return (name, format_spec, conversion) of each placeholder; raises ValueError."""
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:  # unbalanced braces
        raise ValueError(
            f"{template!r} is not a valid template ({exc}); write {{{{ for a brace"
        ) from None
    return [(name, spec or "", conv) for _, name, spec, conv in parsed if name is not None]


def check_batch_template(template: str) -> str:
    """Return ``template`` if it only uses known placeholders; raises ValueError otherwise."""
    if not template.strip():
        raise ValueError("the batch name template is empty")
    for name, spec, conversion in _fields(template):
        if name not in PLACEHOLDERS:
            raise ValueError(
                f"unknown placeholder {{{name}}} in {template!r}; "
                "use {folder}, {subdir}, {date:%Y-%m-%d} or {host}"
            )
        if conversion is not None:
            raise ValueError(f"{{{name}!{conversion}}}: conversions are not supported")
        if spec and name != "date":
            raise ValueError(
                f"{{{name}:{spec}}}: only {{date}} takes a format, e.g. {{date:%Y-%m-%d}}"
            )
    sample = BatchNameValues("folder", "subdir", dt.datetime(2024, 1, 31, 12, 0), "host")
    render_batch_name(template, sample)
    return template


def render_batch_name(template: str, values: BatchNameValues) -> str:
    """Return the batch name for ``values``; the folder name when the result is blank.

    ``{date}`` alone uses ``%Y-%m-%d``; ``{date:FMT}`` uses strftime's FMT.
    """
    out: list[str] = []
    for literal, name, spec, _ in _FORMATTER.parse(template):
        out.append(literal)
        if name == "date":
            out.append(values.date.strftime(spec or DEFAULT_DATE_FORMAT))
        elif name is not None:
            out.append(str(getattr(values, name)))
    # From paths: what is not text is dropped; no leading, trailing or doubled spaces.
    name = " ".join(plain_text("".join(out)).split())
    return name[:MAX_BATCH_NAME_CHARS] or values.folder
