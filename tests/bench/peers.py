"""Benchmark: watchd beside aws-cli and rclone, uploading the same data sets
to the bundled emulator (--discard) over loopback and over a "long link"
(+100 ms per request, S3 bodies capped at 125 MB/s), in one run.

Rows per (link, data set): ``aws s3 cp --recursive``, ``rclone copy``,
``watchd upload`` and a ``watchd run`` daemon (hard links dropped at once,
timed until every job is done), each with wall time, MB/s, CPU-s/GiB of the
tool and of the emulator, peak RSS, and for watchd the ratio to the fastest
peer. ``flow floor`` (small files only) is the vendor's four calls per file
from a minimal client (``flow_floor.py``: http.client, 16 threads, no
database): what the flow itself costs on this machine, against the one PUT
of an S3 tool. ``daemon+mhl`` is the daemon again on the same files dropped as a camera
card with an ASC MHL offload history (xxh64, made by the reference ``ascmhl``
tool), so each file is verified and hashed for its receipt: the cost of the
chain of custody, beside the plain daemon row. Run it through ``scripts/bench``,
which installs the peers first:

    scripts/bench                                    # all four rows, ~5-8 minutes
    scripts/bench --rows loopback-small,long-small --repeat 3
    scripts/bench --watchd-src before=/tmp/before --watchd-src after=/work/main
    scripts/bench --watchd-upload-args "--parallel 8" --daemon-transfer parallel_files=4
    scripts/bench --scan-100k --sparse-20g           # only these (add --rows for both)
    scripts/bench --quick --markdown                 # small data sets, a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import yaml

from tests.bench.datasets import DataSet, DataSetSpec, make_datasets
from tests.bench.emulator_proc import EmulatorProcess, Link, start_emulator
from tests.bench.measure import GIB, MIB, background_busy_pct, machine_steal_seconds
from tests.bench.peer_tools import find_peer
from tests.bench.report import Result, fastest_peer, median_result, one_line, table
from tests.bench.rows import CUSTODY_TOOL, FLOOR_TOOL, Bench, run_row
from tests.bench.scan_burst import make_tree, run_scan
from tests.bench.sparse_upload import describe_size, make_sparse, run_sparse
from tests.bench.watchd_proc import WatchdSource

REPO = Path(__file__).resolve().parents[2]
ROWS = {  # row name -> (link, data set)
    "loopback-big": ("loopback", "big"),
    "loopback-small": ("loopback", "small"),
    "long-big": ("long", "big"),
    "long-small": ("long", "small100"),
}
TOOLS = ("aws", "rclone", "floor", "upload", "daemon", "custody")
FULL_SETS = {"big": (4, 256 * MIB), "small": (500, MIB), "small100": (100, MIB)}
QUICK_SETS = {"big": (4, 32 * MIB), "small": (50, MIB), "small100": (20, MIB)}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Return bytes for '20GiB', '4G', '512MiB' or a plain number (binary units)."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 20GiB")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(float(match.group(1)) * 1024**power)


def parse_source(text: str) -> WatchdSource:
    """Return a checkout from 'LABEL=DIR' or 'DIR' (labelled by the folder's name)."""
    label, sep, directory = text.partition("=")
    if not sep:
        label, directory = Path(text).resolve().name, text
    path = Path(directory).expanduser().resolve()
    if not (path / "watchd" / "__main__.py").is_file():
        raise argparse.ArgumentTypeError(f"{path} holds no watchd/__main__.py")
    return WatchdSource(label, path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the command line's options (see the module doc)."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--rows", help=f"comma list of {', '.join(ROWS)}, 'all' or 'none' "
        "(default: all, or none with --scan-100k/--sparse-20g)")  # fmt: skip
    add("--tools", default=",".join(TOOLS), help="comma list of " + ", ".join(TOOLS))
    add("--repeat", type=int, default=1, help="runs of each row; the median is printed")
    add("--watchd-src", action="append", type=parse_source, default=[], metavar="[LABEL=]DIR",
        help="checkout whose watchd runs the watchd rows (repeatable; default: now=.)")  # fmt: skip
    add("--watchd-upload-args", default="", metavar="ARGS",
        help='extra arguments for every `watchd upload`, e.g. "--parallel 8"')  # fmt: skip
    add("--daemon-transfer", action="append", default=[], metavar="KEY=VALUE",
        help="a transfer: setting of the daemon rows, e.g. parallel_files=4")  # fmt: skip
    add("--emulator-src", type=parse_source, default=None, metavar="DIR",
        help="checkout whose emulator serves every row (default: this one)")  # fmt: skip
    add("--scan-100k", action="store_true", help="time a daemon queueing a folder of many files")
    add("--scan-files", type=int, default=100_000, help="files for --scan-100k")
    add("--scan-timeout", type=float, default=300.0, help="seconds before the scan gives up")
    add("--sparse-20g", action="store_true", help="upload a sparse file with watchd upload")
    add("--sparse-size", type=parse_size, default=20 * GIB, help="size for --sparse-20g")
    add("--quick", action="store_true", help="small data sets (4x32MiB, 50/20x1MiB)")
    add("--markdown", action="store_true", help="print the final table as Markdown too")
    add("--long-latency-ms", type=float, default=100.0)
    add("--long-bandwidth", type=float, default=125e6, metavar="BYTES_PER_S")
    add("--row-timeout", type=float, default=900.0, help="seconds before a row fails")
    add("--stall-timeout", type=float, default=120.0,
        help="a daemon row fails when no file got done for this many seconds")  # fmt: skip
    add("--workdir", type=Path, help="where data sets and logs go (default: a temp dir)")
    add("--keep", action="store_true", help="keep the workdir (logs, configs) afterwards")
    add("--aws", default=str(REPO / ".bench" / "awscli-venv" / "bin" / "aws"))
    add("--rclone", default="rclone")
    add("--skip-notes", type=Path, help="folder of *.skip files written by scripts/bench")
    args = parser.parse_args(argv)
    extras = args.scan_100k or args.sparse_20g
    chosen = args.rows or ("none" if extras else "all")
    args.rows = list(ROWS) if chosen == "all" else [] if chosen == "none" else chosen.split(",")
    args.tools = args.tools.split(",")
    for name, known in (("rows", ROWS), ("tools", TOOLS)):
        unknown = [v for v in getattr(args, name) if v not in known]
        if unknown:
            parser.error(f"--{name}: unknown {', '.join(unknown)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.watchd_src = args.watchd_src or [WatchdSource("now", REPO)]
    args.emulator_src = args.emulator_src or WatchdSource("emulator", REPO)
    if len({s.label for s in args.watchd_src}) != len(args.watchd_src):
        parser.error("--watchd-src: give each checkout its own LABEL=")
    args.transfer = {}
    for pair in args.daemon_transfer:
        key, sep, value = pair.partition("=")
        if not sep:
            parser.error(f"--daemon-transfer {pair!r} is not KEY=VALUE")
        args.transfer[key.strip()] = yaml.safe_load(value)
    return args


def tools_for(args: argparse.Namespace) -> Iterator[tuple[str, WatchdSource | None]]:
    """Yield (tool name, checkout) in the order the rows run."""
    if "aws" in args.tools:
        yield "aws-cli", None
    if "rclone" in args.tools:
        yield "rclone", None
    if "floor" in args.tools:
        yield FLOOR_TOOL, None
    kinds = (("upload", "watchd upload"), ("daemon", "daemon"), ("custody", CUSTODY_TOOL))
    for kind, name in kinds:
        if kind in args.tools:
            for source in args.watchd_src:
                yield f"{name} [{source.label}]", source


def print_header(args: argparse.Namespace, bench: Bench, links: dict[str, Link]) -> None:
    """Print the machine, the tools and the checkouts measured."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.machine(),
    )  # fmt: skip
    print(f"machine: {os.cpu_count()} cores ({cpu}), {platform.platform()}")
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"before the run: load average {load}, {background_busy_pct():.0f}% of all cores busy")
    print(f"python {platform.python_version()}; workdir {bench.workdir}")
    for peer in (bench.aws, bench.rclone):
        print(f"{peer.name}: {peer.version or 'skipped (' + peer.skip + ')'}")
    for source in args.watchd_src:
        print(
            f"watchd [{source.label}]: {source.directory} at {source.revision()}; "
            f"`watchd upload --help` takes {source.startup_s():.2f} s"
        )
    emulator = args.emulator_src
    print(f"emulator: {emulator.directory} at {emulator.revision()}")
    for link in links.values():
        print(f"link {link.describe()}")
    if args.upload_extra:
        print(f"watchd upload extra arguments: {shlex.join(args.upload_extra)}")
    if args.transfer:
        print(f"daemon transfer settings: {args.transfer}")
    print()


def run_rows(
    args: argparse.Namespace, bench: Bench, emulator_for: dict[str, EmulatorProcess],
    datasets: dict[str, DataSet],
) -> list[Result]:  # fmt: skip
    """Run every chosen row (each tool ``--repeat`` times, interleaved); return medians."""
    results: list[Result] = []
    for row in args.rows:
        link, set_name = ROWS[row]
        data = datasets[set_name]
        print(f"{row}: {data.spec.describe()} ({data.total_bytes / 1e6:.0f} MB) over {link}")
        runs: dict[str, list[Result]] = {}
        for repeat in range(args.repeat):
            for tool, source in tools_for(args):
                result = run_row(bench, tool, source, emulator_for[link], data)
                runs.setdefault(tool, []).append(result)
                best = fastest_peer([r[-1] for r in runs.values()], result.link, result.dataset)
                tag = f"[{repeat + 1}/{args.repeat}]" if args.repeat > 1 else ""
                print(one_line(result, best), tag, flush=True)
        results += [median_result(r) for r in runs.values()]
    return results


def run_extras(args: argparse.Namespace, bench: Bench, emulator: EmulatorProcess) -> list[Result]:
    """Run --scan-100k and --sparse-20g for every checkout; return the sparse rows."""
    sparse_results: list[Result] = []
    if args.scan_100k:
        made = time.perf_counter()
        tree = make_tree(bench.workdir, args.scan_files)
        print(f"{args.scan_files} files made in {time.perf_counter() - made:.1f} s", flush=True)
        for source in args.watchd_src:
            scan = run_scan(bench, source, emulator, tree, args.scan_files, args.scan_timeout)
            print("\n".join(scan.lines()), flush=True)
    if args.sparse_20g:
        data = make_sparse(bench.workdir, args.sparse_size)
        print(f"sparse file: {describe_size(args.sparse_size)}, watchd upload over loopback")
        for source in args.watchd_src:
            result = run_sparse(bench, source, emulator, data)
            print(one_line(result, None), flush=True)
            sparse_results.append(result)
    return sparse_results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit code (1 if a watchd row failed)."""
    args = parse_args(argv)
    args.upload_extra = shlex.split(args.watchd_upload_args)
    notes = args.skip_notes
    links = {
        "loopback": Link("loopback"),
        "long": Link("long", args.long_latency_ms, args.long_bandwidth),
    }
    with ExitStack() as stack:
        workdir = args.workdir or Path(tempfile.mkdtemp(prefix="watchd-bench-"))
        workdir = workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        if not args.keep:
            stack.callback(shutil.rmtree, workdir, True)
        bench = Bench(
            workdir,
            find_peer("aws-cli", args.aws, notes / "awscli.skip" if notes else None),
            find_peer("rclone", args.rclone, notes / "rclone.skip" if notes else None),
            args.upload_extra,
            args.transfer,
            args.row_timeout,
            args.stall_timeout,
        )
        print_header(args, bench, links)
        sets = QUICK_SETS if args.quick else FULL_SETS
        wanted = {ROWS[row][1] for row in args.rows}
        specs = [DataSetSpec(name, *sets[name]) for name in FULL_SETS if name in wanted]
        started = time.perf_counter()
        steal = machine_steal_seconds()
        datasets = make_datasets(workdir, specs)
        if specs:
            print(f"data sets made in {time.perf_counter() - started:.1f} s\n", flush=True)
        needed = {ROWS[row][0] for row in args.rows}
        if args.scan_100k or args.sparse_20g:
            needed.add("loopback")
        emulators: dict[str, EmulatorProcess] = {}
        for name in sorted(needed, key=list(links).index):
            emulators[name] = start_emulator(args.emulator_src, links[name], workdir)
            stack.callback(emulators[name].stop)
        results = run_rows(args, bench, emulators, datasets)
        results += run_extras(args, bench, emulators["loopback"]) if "loopback" in needed else []
        if results:
            print("\n" + table(results, markdown=False))
            if args.markdown:
                print("\n" + table(results, markdown=True))
        print(f"\nload average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        elapsed = time.perf_counter() - started
        for source in args.watchd_src:
            print(f"watchd [{source.label}] at the end: {source.revision()}")
        stolen = 100 * (machine_steal_seconds() - steal) / (elapsed * (os.cpu_count() or 1))
        print(f"CPU taken by the hypervisor (steal) during the run: {stolen:.1f}% of all cores")
        kept = f"; kept {workdir}" if args.keep else ""
        print(f"total {elapsed:.0f} s{kept}")
    failed = [r for r in results if not r.is_peer and not r.ok and not r.skipped]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
