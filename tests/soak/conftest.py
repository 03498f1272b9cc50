from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Site
from watchd.emulator import Emulator


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emu = Emulator(
        data_dir=tmp_path / "emulator",
        faults={"processing_delay_s": 0.3, "download_processing_s": 0.2},
    )
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def site(tmp_path: Path, emulator: Emulator) -> Iterator[Site]:
    (tmp_path / "site").mkdir()
    s = Site(tmp_path / "site", emulator)
    try:
        yield s
    finally:
        s.kill()
