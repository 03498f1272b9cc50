"""Prometheus metrics (``metrics: {listen: 127.0.0.1:9464}``), made by ``prometheus-client``.

Two kinds of figures: the counts, read from the database at each scrape by a
custom collector (so they survive restarts), and two histograms the daemon
observes as parts and files are sent (``TransferMetrics``, a listener on the
transfer board: the flowcapture layer knows nothing of Prometheus). Names
follow Prometheus conventions: ``watchd_`` prefix, ``_total`` for counters,
base units (bytes, seconds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from watchd.store.leases import NodeInfo

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST  # the library's text format

# Seconds from the start of a part's PUT to its ETag (bandwidth waits included):
# a 16 MiB part takes ~0.15 s at 1 Gbit/s and ~13 s at 10 Mbit/s.
PART_SECONDS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Bytes per second of one file's upload, from 1 Mbit/s to 10 Gbit/s.
THROUGHPUT_BUCKETS = (125e3, 1.25e6, 5e6, 12.5e6, 25e6, 50e6, 125e6, 250e6, 625e6, 1.25e9)


def gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def daemon_metrics(
    totals: dict[str, Any], folders: list[dict[str, Any]], problems: dict[str, str]
) -> list[Metric]:
    """Build the metric families from the database totals, folder status and problems."""
    counts = totals.get("jobs", {})
    jobs = GaugeMetricFamily("watchd_jobs", "Files known to watchd, by state.", labels=["state"])
    for state, count in counts.items():
        jobs.add_metric([state], count)
    batches = GaugeMetricFamily("watchd_batches", "Batches, by state.", labels=["state"])
    for state, count in totals.get("batches", {}).items():
        batches.add_metric([state], count)
    healthy = GaugeMetricFamily(
        "watchd_folder_healthy", "1 if the drop folder is usable, else 0.", labels=["folder"]
    )
    for folder in folders:
        healthy.add_metric([folder["name"]], 1 if folder.get("health") == "ok" else 0)
    uploaded = sum(counts.get(s, 0) for s in ("uploaded", "ingesting", "done"))
    return [
        gauge("watchd_up", "1 while the daemon serves metrics.", 1),
        jobs,
        gauge(
            "watchd_queue_depth",
            "Files waiting to be uploaded (queued or retrying).",
            counts.get("queued", 0) + counts.get("waiting", 0),
        ),
        counter("watchd_files_uploaded_total", "Files whose upload completed.", uploaded),
        counter(
            "watchd_files_failed_total", "Files that failed for good.", counts.get("failed", 0)
        ),
        counter(
            "watchd_uploaded_bytes_total",
            "Bytes of files whose upload completed.",
            totals.get("bytes_uploaded", 0),
        ),
        counter(
            "watchd_parts_uploaded_total",
            "Multipart parts accepted by the store.",
            totals.get("parts_uploaded", 0),
        ),
        counter(
            "watchd_retries_total",
            "Failed attempts that were or will be retried.",
            totals.get("retries", 0),
        ),
        batches,
        healthy,
        gauge("watchd_health_problems", "Health problems the daemon reports now.", len(problems)),
    ]


def node_metrics(nodes: Iterable[NodeInfo], lease_seconds: float) -> list[Metric]:
    """Per-node figures when several nodes share one PostgreSQL database."""
    alive = GaugeMetricFamily(
        "watchd_node_up", "1 while the node's heartbeat is within a lease.", labels=["node"]
    )
    held = GaugeMetricFamily(
        "watchd_node_jobs_held", "Jobs a node holds under a lease.", labels=["node"]
    )
    watched = GaugeMetricFamily(
        "watchd_node_folders_watched", "Drop folders a node watches.", labels=["node"]
    )
    for node in nodes:
        running = node.stopped_at is None and node.seconds_since_heartbeat <= lease_seconds
        alive.add_metric([node.name], 1 if running else 0)
        held.add_metric([node.name], node.jobs_held)
        watched.add_metric([node.name], len(node.folders_held))
    return [alive, held, watched]


class FiguresCollector(Collector):
    """A custom collector: ``figures()`` (reading the database) runs at every scrape."""

    def __init__(self, figures: Callable[[], list[Metric]]):
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        yield from self.figures()


class TransferMetrics:
    """The histograms of what was sent; a listener on the ingest layer's transfer board."""

    def __init__(self, registry: CollectorRegistry):
        self.part_seconds = Histogram(
            "watchd_part_upload_seconds",
            "Seconds from the start of a part's PUT to its ETag (bandwidth waits included).",
            buckets=PART_SECONDS_BUCKETS,
            registry=registry,
        )
        self.throughput = Histogram(
            "watchd_upload_throughput_bytes_per_second",
            "Bytes per second of each file's upload, from its (re)start to its last part.",
            buckets=THROUGHPUT_BUCKETS,
            registry=registry,
        )

    def part_sent(self, size: int, seconds: float) -> None:
        self.part_seconds.observe(seconds)

    def file_sent(self, size: int, seconds: float) -> None:
        if seconds > 0:
            self.throughput.observe(size / seconds)


class DaemonMetrics:
    """The daemon's registry: the collector reading the database and the histograms."""

    def __init__(self, figures: Callable[[], list[Metric]]):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(FiguresCollector(figures))
        self.transfers = TransferMetrics(self.registry)

    def exposition(self) -> bytes:
        """Return every metric in the library's text format (raises what figures() raises)."""
        return generate_latest(self.registry)
