"""An optional Prometheus endpoint (``metrics: {listen: 127.0.0.1:9464}``).

Serves GET /metrics in the Prometheus text format. Figures come from the
database (so they survive restarts) and from the daemon's health board.
Names follow Prometheus conventions: ``watchd_`` prefix, ``_total`` for
counters, base units (bytes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from watchd.store.leases import NodeInfo

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Metric:
    """One metric family: name, type, help text and its samples (labels -> value)."""

    name: str
    kind: str  # counter | gauge
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Metric:
        self.samples.append((labels, value))
        return self


def render(metrics: Iterable[Metric]) -> str:
    """Return the metrics in the Prometheus text exposition format."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            number = _number(value)
            lines.append(f"{metric.name}{{{text}}} {number}" if text else f"{metric.name} {number}")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    """Integers exactly (byte counts must not be rounded), other values in full precision."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def daemon_metrics(
    totals: dict[str, Any], folders: list[dict[str, Any]], problems: dict[str, str]
) -> list[Metric]:
    """Build the metric families from the database totals, folder status and problems."""
    jobs = Metric("watchd_jobs", "gauge", "Files known to watchd, by state.")
    for state, count in totals.get("jobs", {}).items():
        jobs.add(count, state=state)
    counts = totals.get("jobs", {})
    batches = Metric("watchd_batches", "gauge", "Batches, by state.")
    for state, count in totals.get("batches", {}).items():
        batches.add(count, state=state)
    healthy = Metric("watchd_folder_healthy", "gauge", "1 if the drop folder is usable, else 0.")
    for folder in folders:
        healthy.add(1 if folder.get("health") == "ok" else 0, folder=folder["name"])
    return [
        Metric("watchd_up", "gauge", "1 while the daemon serves metrics.").add(1),
        jobs,
        Metric(
            "watchd_queue_depth", "gauge", "Files waiting to be uploaded (queued or retrying)."
        ).add(counts.get("queued", 0) + counts.get("waiting", 0)),
        Metric("watchd_files_uploaded_total", "counter", "Files whose upload completed.").add(
            sum(counts.get(s, 0) for s in ("uploaded", "ingesting", "done"))
        ),
        Metric("watchd_files_failed_total", "counter", "Files that failed for good.").add(
            counts.get("failed", 0)
        ),
        Metric(
            "watchd_uploaded_bytes_total", "counter", "Bytes of files whose upload completed."
        ).add(totals.get("bytes_uploaded", 0)),
        Metric(
            "watchd_parts_uploaded_total", "counter", "Multipart parts accepted by the store."
        ).add(totals.get("parts_uploaded", 0)),
        Metric(
            "watchd_retries_total", "counter", "Failed attempts that were or will be retried."
        ).add(totals.get("retries", 0)),
        batches,
        healthy,
        Metric("watchd_health_problems", "gauge", "Health problems the daemon reports now.").add(
            len(problems)
        ),
    ]


class MetricsServer:
    """Serves ``collect()`` at /metrics on HOST:PORT in a background thread."""

    def __init__(self, listen: str, collect: Callable[[], str]):
        host, _, port = listen.rpartition(":")
        self.collect = collect
        handler = _handler(collect)
        self._server = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        log.info("metrics on http://%s:%d/metrics", self._server.server_address[0], self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(collect: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            try:
                body = collect().encode()
            except Exception:
                log.exception("collecting metrics failed")
                self.send_error(500, "collecting metrics failed; see the watchd log")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics: " + format, *args)

    return Handler


def node_metrics(nodes: Iterable[NodeInfo], lease_seconds: float) -> list[Metric]:
    """Per-node figures when several nodes share one PostgreSQL database."""
    alive = Metric("watchd_node_up", "gauge", "1 while the node's heartbeat is within a lease.")
    held = Metric("watchd_node_jobs_held", "gauge", "Jobs a node holds under a lease.")
    watched = Metric("watchd_node_folders_watched", "gauge", "Drop folders a node watches.")
    for node in nodes:
        running = node.stopped_at is None and node.seconds_since_heartbeat <= lease_seconds
        alive.add(1 if running else 0, node=node.name)
        held.add(node.jobs_held, node=node.name)
        watched.add(len(node.folders_held), node=node.name)
    return [alive, held, watched]
