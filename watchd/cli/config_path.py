"""The ``--config`` option shared by every command that reads watchd.yaml."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from watchd.config.problems import ConfigError

if TYPE_CHECKING:
    from watchd.config.schema import Config

DEFAULT_CONFIG = Path("/etc/watchd/watchd.yaml")
CONFIG_ENV = "WATCHD_CONFIG"


def default_config_path() -> Path:
    """Return ``$WATCHD_CONFIG`` if set, else /etc/watchd/watchd.yaml."""
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def add_config_argument(parser: argparse.ArgumentParser) -> argparse.Action:
    return parser.add_argument(
        "--config",
        type=Path,
        default=default_config_path(),
        help=f"watchd.yaml to use (default: ${CONFIG_ENV} or {DEFAULT_CONFIG})",
    )


def given_after_action(options: Iterable[argparse.Action]) -> None:
    """Let an action's own copies of options its group also has (`watchd db --config X
    check` and `watchd db check --config X`) leave the group's value alone unless given.

    argparse copies every value an action's parser ends up with over the group's,
    defaults included; without a default of their own, the copies only count when
    given, after the action, and the group's options carry the defaults.
    """
    for option in options:
        option.default = argparse.SUPPRESS


def load_or_report(path: Path) -> Config | None:
    """Load the config; on problems print them all to stderr and return None."""
    from watchd.config.loader import load_config  # noqa: PLC0415 - pydantic only for a config

    try:
        return load_config(path)
    except ConfigError as exc:
        _report(exc)
        return None


def load_for_operator(path: Path) -> Config | None:
    """``config_for_operator(path)``; on problems of the main file print them all to
    stderr and return None."""
    try:
        return config_for_operator(path)
    except ConfigError as exc:
        _report(exc)
        return None


def config_for_operator(path: Path) -> Config:
    """Load the config for a command that works on the state or the API (status, jobs,
    retry, db, the API commands, `watchd upload --config`).

    A broken drop folder file must not lock the operator out of a daemon still
    running on the configuration it loaded before: its problems are printed as
    a warning and the folders that are sound are kept. Raises ConfigError only
    when the main file itself cannot be used.
    """
    from watchd.config.loader import read_config  # noqa: PLC0415 - pydantic only for a config

    config, problems = read_config(path)
    if config is None:
        raise ConfigError(problems)
    if problems:
        print(
            f"watchd: warning: the configuration has problems (a running daemon keeps the "
            f"configuration it had; this command goes on without the folders at fault):\n"
            f"{ConfigError(problems)}",
            file=sys.stderr,
        )
    return config


def _report(exc: ConfigError) -> None:
    print(f"watchd: the configuration has problems:\n{exc}", file=sys.stderr)
