"""Helpers for config tests: real files in a temporary directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from watchd.config import ConfigError, load_config

KEY = "test-api-key-0123"


class ConfigDir:
    """A temporary /etc/watchd: watchd.yaml, folders.d, a key file and drop folders."""

    def __init__(self, root: Path):
        self.root = root
        self.main = root / "watchd.yaml"
        self.folders_d = root / "folders.d"
        self.folders_d.mkdir()
        self.key_file = root / "api_key"
        self.key_file.write_text(KEY + "\n")
        self.key_file.chmod(0o600)

    def drop(self, name: str) -> Path:
        path = self.root / "drop" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_main(self, text: str = "", *, base: bool = True) -> Path:
        head = (
            "flowcapture:\n"
            "  email: ingest@example.com\n"
            "  api_key_file: api_key\n"
            "state_dir: state\n"
            "folders_dir: folders.d\n"
        )
        self.main.write_text((head if base else "") + textwrap.dedent(text))
        return self.main

    def write_folder(self, name: str, text: str) -> Path:
        path = self.folders_d / name
        path.write_text(textwrap.dedent(text))
        return path

    def problems(self) -> list[str]:
        with pytest.raises(ConfigError) as caught:
            load_config(self.main)
        return [str(p) for p in caught.value.problems]


@pytest.fixture
def cfg(tmp_path: Path) -> ConfigDir:
    return ConfigDir(tmp_path)
