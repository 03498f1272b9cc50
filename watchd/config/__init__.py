"""Configuration: the one schema, YAML loading, and problems reported with file and key.

The names below are loaded when first used (PEP 562): importing a light
module of this package (``watchd.config.problems``, ``units``, ``limits``)
must not load the schema, pydantic and SQLAlchemy, so that a command given
``--email`` starts talking to Flow Capture sooner.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from watchd.config.folder_schema import FolderConfig
    from watchd.config.loader import load_config
    from watchd.config.problems import ConfigError, Problem
    from watchd.config.schema import Config

__all__ = ["Config", "ConfigError", "FolderConfig", "Problem", "load_config"]

_HOMES = {
    "Config": "watchd.config.schema",
    "ConfigError": "watchd.config.problems",
    "FolderConfig": "watchd.config.folder_schema",
    "Problem": "watchd.config.problems",
    "load_config": "watchd.config.loader",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
