"""Real ASC MHL histories, made by the reference tool (PyPI ``ascmhl``, a test extra)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]  # no stubs; a test extra (ascmhl)

ASCMHL = Path(sys.executable).parent / "ascmhl"
SCHEMAS = Path(__file__).parents[2] / "data" / "ascmhl"


def ascmhl(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the reference tool; return its result (output in .stdout, both streams)."""
    result = subprocess.run(
        [str(ASCMHL), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"ascmhl {args} failed ({result.returncode}):\n{result.stdout}")
    return result


def make_card(root: Path, files: dict[str, bytes], fmt: str = "xxh64") -> Path:
    """Write ``files`` under ``root`` and offload-hash them with ``ascmhl create``."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    ascmhl("create", "-h", fmt, root)
    return root


CARD_FILES = {
    "CLIPS/A001C001.mov": b"clip one " * 5000,
    "CLIPS/A001C002.mov": b"clip two " * 7000,
    "A001.xml": b"<sidecar/>",
}


@pytest.fixture(scope="session")
def pristine_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The card, offloaded once per session (the tool takes ~0.5 s to start)."""
    return make_card(tmp_path_factory.mktemp("pristine") / "A001", CARD_FILES)


@pytest.fixture
def card(tmp_path: Path, pristine_card: Path) -> Path:
    """A card folder A001 with three clips and its ascmhl/ history (xxh64), a fresh copy."""
    return Path(shutil.copytree(pristine_card, tmp_path / "A001"))


def schema_validator(name: str) -> Callable[[Path], list[str]]:
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / name)))

    def errors(path: Path) -> list[str]:
        schema.validate(etree.parse(str(path)))
        return [str(e) for e in schema.error_log]

    return errors


@pytest.fixture(scope="session")
def mhl_schema_errors() -> Callable[[Path], list[str]]:
    """Return a function listing the ASC MHL 2.0 schema errors of a hash list file."""
    return schema_validator("ASCMHL.xsd")


@pytest.fixture(scope="session")
def chain_schema_errors() -> Callable[[Path], list[str]]:
    """Return a function listing the schema errors of an ascmhl_chain.xml."""
    return schema_validator("ASCMHLDirectory.xsd")
