"""The benchmark's data sets: folders of random files, made once per run.

A smaller set of the same file size is made of hard links to the first files
of a larger one (no second copy on disk); the drop folders of the daemon rows
hard-link the files too, so everything must stay on one filesystem.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.bench.measure import MIB

WRITE_BLOCK_BYTES = 4 * MIB  # random bytes are written in blocks of this size


@dataclass(frozen=True)
class DataSetSpec:
    """How many files of what size."""

    name: str
    count: int
    file_bytes: int

    def describe(self) -> str:
        """Return e.g. '4 x 256 MiB'."""
        size = self.file_bytes
        unit = f"{size // MIB} MiB" if size % MIB == 0 else f"{size / 1024:g} KiB"
        return f"{self.count}x{unit.replace(' ', '')}"


@dataclass(frozen=True)
class DataSet:
    """A folder of files on disk."""

    spec: DataSetSpec
    directory: Path
    files: tuple[Path, ...]

    @property
    def total_bytes(self) -> int:
        """Return the bytes in all files."""
        return self.spec.count * self.spec.file_bytes


def make_datasets(root: Path, specs: list[DataSetSpec]) -> dict[str, DataSet]:
    """Create every set under ``root``; return them by name.

    Files are written once per distinct size, for the largest count of that
    size; the other sets of that size link to them. The page cache is then
    flushed to disk (sync) so that write-back does not disturb the rows.
    """
    made: dict[str, DataSet] = {}
    by_size: dict[int, list[DataSetSpec]] = {}
    for spec in specs:
        by_size.setdefault(spec.file_bytes, []).append(spec)
    for group in by_size.values():
        group.sort(key=lambda s: -s.count)
        largest = _write(root, group[0])
        made[group[0].name] = largest
        for spec in group[1:]:
            made[spec.name] = _linked(root, spec, largest)
    os.sync()
    return made


def _write(root: Path, spec: DataSetSpec) -> DataSet:
    directory = root / f"data-{spec.name}"
    directory.mkdir(parents=True)
    files = []
    for index in range(spec.count):
        path = directory / f"clip{index:05d}.mov"
        with path.open("wb") as out:
            left = spec.file_bytes
            while left > 0:
                block = os.urandom(min(WRITE_BLOCK_BYTES, left))
                out.write(block)
                left -= len(block)
        files.append(path)
    return DataSet(spec, directory, tuple(files))


def _linked(root: Path, spec: DataSetSpec, source: DataSet) -> DataSet:
    directory = root / f"data-{spec.name}"
    directory.mkdir(parents=True)
    files = []
    for path in source.files[: spec.count]:
        target = directory / path.name
        os.link(path, target)
        files.append(target)
    return DataSet(spec, directory, tuple(files))


def offload_history(data: DataSet) -> Path:
    """Return an ASC MHL history (xxh64) of ``data``'s files, made once by the reference tool.

    It is made in a folder of hard links beside the set (``data-NAME-card/ascmhl``),
    so that the peers, which upload the set's whole folder, never see it.
    Raises RuntimeError when the ``ascmhl`` tool is missing or fails.
    """
    card = data.directory.with_name(data.directory.name + "-card")
    history = card / "ascmhl"
    if history.is_dir():
        return history
    tool = Path(sys.executable).with_name("ascmhl")
    if not tool.exists():
        raise RuntimeError(f"{tool} is missing (pip install ascmhl)")
    card.mkdir(exist_ok=True)
    for path in data.files:
        os.link(path, card / path.name)
    made = subprocess.run(
        [str(tool), "create", "-h", "xxh64", str(card)], check=False, capture_output=True, text=True
    )
    if made.returncode != 0:
        raise RuntimeError(f"ascmhl create failed: {made.stderr.strip()[-200:]}")
    return history
