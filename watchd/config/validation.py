"""Validating YAML data against the schema, turning pydantic errors into problems.

Pydantic's messages are written for programmers ("Extra inputs are not
permitted"); these say what to do instead ("unknown key 'setle'; did you mean
'settle'?"), and every one carries its file, key path and line.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from watchd.config.fieldtypes import Model
from watchd.config.problems import KeyPath, Origin, Problem
from watchd.config.schema import model_fields_at

M = TypeVar("M", bound=Model)
MAX_SHOWN_VALUE_CHARS = 40  # longer values are cut in messages
_YAML_WORDS = {"True": "true", "False": "false", "None": "null"}  # values as the user wrote them


def validate(
    model: type[M], data: Any, origin: Origin, base_dir: Path
) -> tuple[M | None, list[Problem]]:
    """Return (the model or None, problems) for ``data`` read from ``origin``.

    Relative paths in ``data`` resolve against ``base_dir``.
    """
    try:
        return model.model_validate(data, context={"base_dir": base_dir}), []
    except ValidationError as exc:
        return None, [_problem(model, error, origin) for error in exc.errors()]


def _clean_loc(loc: tuple[Any, ...]) -> KeyPath:
    """Drop pydantic's own markers (``[key]`` of dict keys) from an error location."""
    return tuple(part for part in loc if part != "[key]")


def _problem(model: type[Model], error: ErrorDetails, origin: Origin) -> Problem:
    loc = _clean_loc(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden" and loc:
        return origin.problem(loc, _unknown_key(model, loc))
    if kind == "missing":
        return origin.problem(loc, "required key is missing")
    return origin.problem(loc, _message(error))


def _unknown_key(model: type[Model], loc: KeyPath) -> str:
    key = str(loc[-1])
    message = f"unknown key {key!r}"
    owner = model_fields_at(model, loc[:-1])
    if owner is None:
        return message
    known = list(owner.model_fields)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message}; known keys here: {', '.join(known)}"


def _message(error: ErrorDetails) -> str:
    message = error["msg"]
    if error["type"] == "value_error":
        return message.removeprefix("Value error, ")
    message = message.replace("Input should be", "should be")
    value = error.get("input")
    if isinstance(value, str | int | float | bool) or value is None:
        shown = _YAML_WORDS.get(repr(value), repr(value))
        if len(shown) > MAX_SHOWN_VALUE_CHARS:
            shown = shown[: MAX_SHOWN_VALUE_CHARS - 3] + "..."
        message = f"{message}, not {shown}"
    return message
