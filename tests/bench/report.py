"""Figures of one row and the tables they are printed in (plain or Markdown)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.bench.measure import GIB

PEERS = ("aws-cli", "rclone")  # tools whose best time is the yardstick for watchd's rows


@dataclass
class Result:
    """One tool on one (link, data set): a measurement, or why there is none."""

    link: str
    dataset: str
    tool: str
    total_bytes: int
    wall_s: float | None = None
    tool_cpu_s: float = 0.0
    emulator_cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    other_cpu_pct: float = 0.0  # busy CPU of everything else on the machine, % of all cores
    note: str = ""  # "skipped (why)", "failed (why)", or extra figures
    runs: list[float] = field(default_factory=list)  # wall seconds of every repeat

    @property
    def is_peer(self) -> bool:
        """True for the peer tools (aws-cli, rclone)."""
        return self.tool in PEERS

    @property
    def ok(self) -> bool:
        """True when there is a time."""
        return self.wall_s is not None

    @property
    def skipped(self) -> bool:
        """True for a row not run on purpose (a peer not installed, the floor of big files)."""
        return self.note.startswith("skipped")


def median_result(results: Sequence[Result]) -> Result:
    """Return the run with the median time (the lower one of an even count),
    with every run's time in ``runs``; a failed run makes the row failed."""
    failed = [r for r in results if not r.ok]
    if failed:
        return failed[0]
    ordered = sorted(results, key=lambda r: r.wall_s or 0.0)
    chosen = ordered[(len(ordered) - 1) // 2]
    chosen.runs = [r.wall_s or 0.0 for r in results]
    return chosen


def _per_gib(seconds: float, total_bytes: int) -> float:
    return seconds / (total_bytes / GIB) if total_bytes else 0.0


def fastest_peer(results: Sequence[Result], link: str, dataset: str) -> float | None:
    """Return the best peer time on this (link, data set), if any peer ran."""
    times = [
        r.wall_s
        for r in results
        if r.is_peer and r.link == link and r.dataset == dataset and r.wall_s is not None
    ]
    return min(times) if times else None


HEADERS = (
    "link", "data", "tool", "s", "MB/s", "tool CPU-s/GiB", "emu CPU-s/GiB",
    "peak RSS MiB", "x fastest peer", "other CPU %", "notes",
)  # fmt: skip


def cells(result: Result, best_peer: float | None) -> list[str]:
    """Return the table cells of one result."""
    head = [result.link, result.dataset, result.tool]
    if result.wall_s is None:
        return [*head, "-", "-", "-", "-", "-", "-", "-", result.note]
    seconds = result.wall_s
    ratio = "-"
    if not result.is_peer and best_peer:
        ratio = f"{seconds / best_peer:.2f}"
    spread = ""
    if len(result.runs) > 1:
        spread = f"median of {len(result.runs)}: {min(result.runs):.2f}-{max(result.runs):.2f} s"
    notes = "; ".join(n for n in (spread, result.note) if n)
    return [
        *head,
        f"{seconds:.2f}",
        f"{result.total_bytes / seconds / 1e6:.0f}",
        f"{_per_gib(result.tool_cpu_s, result.total_bytes):.2f}",
        f"{_per_gib(result.emulator_cpu_s, result.total_bytes):.2f}",
        f"{result.peak_rss_mib:.0f}",
        ratio,
        f"{result.other_cpu_pct:.0f}",
        notes,
    ]


def one_line(result: Result, best_peer: float | None) -> str:
    """Return a result as one log line, printed as soon as the row ends."""
    values = cells(result, best_peer)
    if result.wall_s is None:
        return f"  {values[0]:9} {values[1]:12} {values[2]:24} {result.note}"
    ratio = f"  x{values[8]} fastest peer" if values[8] != "-" else ""
    return (
        f"  {values[0]:9} {values[1]:12} {values[2]:24} {values[3]:>7} s {values[4]:>5} MB/s"
        f"  CPU-s/GiB tool {values[5]:>6} emu {values[6]:>5}  RSS {values[7]:>4} MiB"
        f"  other {values[9]:>2}%{ratio}  {values[10]}"
    ).rstrip()


def table(results: Sequence[Result], markdown: bool) -> str:
    """Return every result as an aligned text table, or a Markdown table."""
    rows = [cells(r, fastest_peer(results, r.link, r.dataset)) for r in results]
    if markdown:
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in column) for column in zip(HEADERS, *rows, strict=True)]
    numeric = range(3, 10)

    def render(row: Sequence[str]) -> str:
        out = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    return "\n".join([render(HEADERS), render(["-" * w for w in widths]), *map(render, rows)])


def median(values: Sequence[float]) -> float:
    """Return the median of ``values`` (0 for none)."""
    return statistics.median(values) if values else 0.0
