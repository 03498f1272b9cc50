"""--sparse-20g: one big sparse file (no disk space, reads as zeros) uploaded
with ``watchd upload``: its peak memory must not grow with the file, and the
time shows the cost of reading, hashing and sending that many parts."""

from __future__ import annotations

import os
from pathlib import Path

from tests.bench.datasets import DataSet, DataSetSpec
from tests.bench.emulator_proc import EmulatorProcess
from tests.bench.measure import GIB, MIB
from tests.bench.report import Result
from tests.bench.rows import Bench, run_row
from tests.bench.watchd_proc import WatchdSource


def describe_size(size: int) -> str:
    """Return e.g. '20 GiB' or '512 MiB'."""
    if size % GIB == 0:
        return f"{size // GIB} GiB"
    return f"{size / MIB:g} MiB"


def make_sparse(root: Path, size: int) -> DataSet:
    """Create a sparse file of ``size`` bytes (truncate); return it as a data set."""
    directory = root / "sparse"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "sparse.mov"
    with path.open("wb") as handle:
        handle.truncate(size)
    spec = DataSetSpec(f"sparse-{describe_size(size).replace(' ', '')}", 1, size)
    return DataSet(spec, directory, (path,))


def run_sparse(
    bench: Bench, source: WatchdSource, emulator: EmulatorProcess, data: DataSet
) -> Result:
    """Upload the sparse file once with this checkout's ``watchd upload``."""
    result = run_row(bench, f"watchd upload [{source.label}]", source, emulator, data)
    result.dataset = f"sparse {describe_size(data.total_bytes)}"
    blocks = os.stat(data.files[0]).st_blocks * 512
    extra = f"{blocks / MIB:.0f} MiB on disk"
    result.note = f"{result.note}; {extra}" if result.note else extra
    return result
