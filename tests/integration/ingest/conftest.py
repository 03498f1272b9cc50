from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.ingest.core import Core, make_core
from watchd.emulator import Emulator


@pytest.fixture
def core(emulator: Emulator, tmp_path: Path) -> Iterator[Core]:
    (tmp_path / "site").mkdir()
    site = make_core(emulator, tmp_path / "site")
    try:
        yield site
    finally:
        site.stop.stop("test over")
        site.client.close()
        site.db.close()
