"""Loading ``watchd.yaml`` and its drop folders, reporting every problem at once.

The main file, then each folder (inline under ``folders:``, then one file each
in ``folders_dir``, sorted), are validated separately so one broken file does
not hide the problems of the others. Cross-folder rules (unique names, no
overlaps or loops) run on every valid folder. Any problem raises one
:class:`ConfigError` listing them all as ``FILE:LINE: key.path: message``,
followed by what :mod:`watchd.config.checks` finds wrong on this machine
(missing folders, the API key), so one run shows everything to fix.
:func:`check_config` returns the same list, for ``watchd check-config``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchd.config.checks import check_environment, check_folder
from watchd.config.fieldtypes import absolute_path
from watchd.config.folder_schema import FolderConfig
from watchd.config.layout import check_folders, check_own_files
from watchd.config.problems import ConfigError, KeyPath, Origin, Problem
from watchd.config.schema import Config
from watchd.config.validation import validate
from watchd.config.yamlfile import YamlFile, read_yaml

log = logging.getLogger(__name__)

FOLDER_FILE_SUFFIXES = (".yaml", ".yml")
# Keys that would put a secret in the YAML; refused wherever they appear.
SECRET_KEYS = frozenset({"api_key", "apikey", "api_token", "token", "access_token", "password"})
SECRET_MESSAGE = (
    "secrets do not belong in the config; give the API key through flowcapture.api_key_file "
    "(mode 600), flowcapture.api_key_env, or the systemd credential 'api_key'"
)


@dataclass
class _FolderSource:
    """One folder's raw data and where it came from."""

    data: Any
    origin: Origin
    base_dir: Path


def load_config(path: Path) -> Config:
    """Read and validate ``path`` and its drop folders; return the config.

    Raises ConfigError listing every problem found, each with file, key path and
    line; when there is any, this machine's problems are listed after them.
    """
    read = _read(path)
    if read.config is None or read.problems:
        raise ConfigError(_sorted(read.problems) + _machine_problems(read))
    log.debug("loaded %s: %d folders", path, len(read.config.folders))
    return read.config


def check_config(
    path: Path, environ: Mapping[str, str] | None = None
) -> tuple[Config | None, list[Problem]]:
    """Return (the config, every problem of it and of this machine), for check-config.

    The config is None when its main file cannot be used; otherwise it holds
    the drop folders that are valid, even if others are not. Problems of the
    files come first (by file, then line), then this machine's. Never raises
    ConfigError.
    """
    read = _read(path)
    return read.config, _sorted(read.problems) + _machine_problems(read, environ)


def read_config(path: Path) -> tuple[Config | None, list[Problem]]:
    """Return (the config with its valid drop folders, the problems of its files).

    For commands that only need the main file (the state, the daemon's files):
    the config is None when the main file has any problem outside its drop
    folders (a repeated key, say, is not half taken: it may name another state
    folder than the daemon's). Problems of drop folders, inline or in their
    own files, leave the config with the sound ones. This machine's problems
    are not looked for. Never raises ConfigError.
    """
    read = _read(path)
    main = Path(os.path.abspath(path))
    problems = _sorted(read.problems)
    if any(p.file == main and not p.key.startswith("folders") for p in problems):
        return None, problems
    return read.config, problems


@dataclass
class _Read:
    """What could be read: the config (None if unusable), its valid folders, the problems."""

    config: Config | None
    folders: list[FolderConfig]
    problems: list[Problem]


def _read(path: Path) -> _Read:
    path = Path(os.path.abspath(path))
    main = read_yaml(path)
    problems = list(main.problems)
    data = _top_mapping(main, problems)
    if data is None:
        return _Read(None, [], problems)
    problems += _pop_secrets(data, main.origin, ())
    inline = data.pop("folders", None)
    top, found = validate(Config, {**data, "folders": []}, main.origin, path.parent)
    problems += found
    sources = list(_inline_sources(inline, main.origin, path.parent, problems))
    sources += _folders_dir_sources(data.get("folders_dir"), main.origin, path.parent, problems)
    folders = _validate_folders(sources, problems)
    problems += check_folders(folders)
    if top is None:
        return _Read(None, folders, problems)
    config = top.model_copy(update={"folders": folders})
    config._origin = main.origin
    problems += check_own_files(config)
    return _Read(config, folders, problems)


def _machine_problems(read: _Read, environ: Mapping[str, str] | None = None) -> list[Problem]:
    """Return this machine's problems for what was read (only the folders' without a config)."""
    if read.config is not None:
        return check_environment(read.config, environ)
    return [problem for folder in read.folders for problem in check_folder(folder)]


def _top_mapping(main: YamlFile, problems: list[Problem]) -> dict[str, Any] | None:
    if main.problems and main.data is None:
        return None
    if main.data is None:
        problems.append(Problem(main.path, "", "the file is empty; it needs flowcapture.email"))
        return None
    if not isinstance(main.data, dict):
        problems.append(Problem(main.path, "", "expected keys (a YAML mapping) at the top level"))
        return None
    return dict(main.data)


def _pop_secrets(data: Any, origin: Origin, path: KeyPath) -> list[Problem]:
    """Remove secret-looking keys from ``data`` (in place); return one problem for each."""
    problems: list[Problem] = []
    if isinstance(data, dict):
        for key in list(data):
            if isinstance(key, str) and key.lower() in SECRET_KEYS:
                del data[key]
                problems.append(origin.problem((*path, key), SECRET_MESSAGE))
            else:
                problems += _pop_secrets(data[key], origin, (*path, str(key)))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            problems += _pop_secrets(item, origin, (*path, index))
    return problems


def _inline_sources(
    inline: Any, origin: Origin, base_dir: Path, problems: list[Problem]
) -> Iterator[_FolderSource]:
    if inline is None:
        return
    if not isinstance(inline, list):
        problems.append(origin.problem(("folders",), "should be a list of drop folders"))
        return
    for index, item in enumerate(inline):
        yield _FolderSource(item, origin.child(("folders", index)), base_dir)


def _folders_dir_sources(
    raw: Any, origin: Origin, base_dir: Path, problems: list[Problem]
) -> list[_FolderSource]:
    if raw is None:
        return []
    try:
        directory = absolute_path(raw, base_dir)
    except ValueError:
        return []  # already reported by the schema
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        why = "does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror
        problems.append(origin.problem(("folders_dir",), f"{directory}: {why}"))
        return []
    sources = []
    for entry in entries:
        if entry.name.startswith(".") or entry.suffix not in FOLDER_FILE_SUFFIXES:
            continue
        if entry.is_file():
            sources.append(_file_source(entry, problems))
    return [source for source in sources if source is not None]


def _file_source(path: Path, problems: list[Problem]) -> _FolderSource | None:
    parsed = read_yaml(path)
    problems += parsed.problems
    if parsed.problems and parsed.data is None:
        return None
    if not isinstance(parsed.data, dict):
        what = "the file is empty" if parsed.data is None else "expected keys (a YAML mapping)"
        problems.append(Problem(path, "", f"{what}; a drop folder needs at least path"))
        return None
    data = {"name": path.stem, **parsed.data}
    problems += _pop_secrets(data, parsed.origin, ())
    return _FolderSource(data, parsed.origin, path.parent)


def _validate_folders(sources: list[_FolderSource], problems: list[Problem]) -> list[FolderConfig]:
    folders = []
    for source in sources:
        if not isinstance(source.data, dict):
            problems.append(source.origin.problem((), "should be a drop folder (a YAML mapping)"))
            continue
        folder, found = validate(FolderConfig, source.data, source.origin, source.base_dir)
        problems += found
        if folder is not None:
            folder._origin = source.origin
            folders.append(folder)
    return folders


def _sorted(problems: list[Problem]) -> list[Problem]:
    """Return problems grouped by file (in order of first mention), then by line."""
    order: dict[Path, int] = {}
    for problem in problems:
        order.setdefault(problem.file, len(order))
    return sorted(problems, key=lambda p: (order[p.file], p.line or 0))
