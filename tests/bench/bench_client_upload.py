"""Benchmark: watchd's own upload path (upload_file) into the emulator over loopback.

Starts ``python -m watchd emulator --discard`` in a subprocess, uploads one
file of ``--size-mib`` with ``--parallel`` parts in flight, and prints the
client's throughput, the client's CPU use and the emulator's CPU use.

    .venv/bin/python -m tests.bench.bench_client_upload [--size-mib 1024] [--parallel 4]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from tests.bench.bench_emulator_put import cpu_seconds, start_emulator
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.upload import upload_file

MiB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=16)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "bench.mov"
        with source.open("wb") as out:
            block = os.urandom(MiB)
            for _ in range(args.size_mib):
                out.write(block)
        proc, api = start_emulator(str(Path(tmp) / "emu"), discard=True)
        try:
            with FlowCaptureClient("demo@example.com", "demo-api-key", api) as client:
                folder = next(f.id for f in client.get_projects() if f.name == "Dailies")
                emu_before = cpu_seconds(proc.pid)
                own_before = resource.getrusage(resource.RUSAGE_SELF)
                start = time.perf_counter()
                upload_file(
                    client,
                    source,
                    project_id=folder,
                    part_size=args.part_mib * MiB,
                    parallel_parts=args.parallel,
                )
                elapsed = time.perf_counter() - start
                own_after = resource.getrusage(resource.RUSAGE_SELF)
                emu_cpu = cpu_seconds(proc.pid) - emu_before
        finally:
            proc.terminate()
            proc.wait(10)
    own_cpu = own_after.ru_utime - own_before.ru_utime + own_after.ru_stime - own_before.ru_stime
    size = args.size_mib * MiB
    print(f"uploaded {args.size_mib} MiB in {elapsed:.2f}s: {size / elapsed / 1e6:.0f} MB/s")
    print(f"client CPU: {own_cpu:.2f}s ({100 * own_cpu / elapsed:.0f}% of one core)")
    print(f"emulator CPU: {emu_cpu:.2f}s ({100 * emu_cpu / elapsed:.0f}% of one core)")


if __name__ == "__main__":
    main()
