"""The daemon: start order, the main loop, reload on SIGHUP, shutdown on SIGTERM.

Start: config -> logs -> lock -> database (upgrade) -> API key and client ->
pipeline -> folders -> scheduler -> dispatcher. Stop, within one deadline:
stop new work and abandon transfers in flight (their parts are sent again
next time), stop watchers and scheduler, wait for workers, write the status,
close. Nothing is lost either way: the next start resumes from the database.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from watchd import __version__
from watchd.config import Config, load_config
from watchd.config.secrets import read_api_key
from watchd.daemon.folders import FolderSet
from watchd.daemon.health import HealthBoard, counted_jobs, refresh_health, status_line
from watchd.daemon.metrics import MetricsServer, daemon_metrics, render
from watchd.daemon.notify import SystemdNotifier
from watchd.daemon.runtime_files import STATUS_STALE_SECONDS, DaemonLock, write_status
from watchd.daemon.scheduler import every, make_scheduler
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.bandwidth import Throttle
from watchd.ingest.batches import BatchCloser
from watchd.ingest.dispatcher import Dispatcher, requeue_due
from watchd.ingest.failures import RetryPolicy
from watchd.ingest.finish_step import FinishStep
from watchd.ingest.jobs import JobRunner
from watchd.ingest.policy import TransferPolicy
from watchd.ingest.progress import TransferBoard
from watchd.ingest.upload_step import UploadStep
from watchd.store.database import Database, sqlite_url
from watchd.store.migrate import upgrade
from watchd.store.queries import totals

log = logging.getLogger(__name__)

SHUTDOWN_DEADLINE_SECONDS = 8.0  # systemd's stop timeout is longer; stay well inside 10 s
STATUS_EVERY_SECONDS = 2.0
BATCH_CLOSE_EVERY_SECONDS = 1.0
REQUEUE_EVERY_SECONDS = 1.0
PROJECT_RETRY_EVERY_SECONDS = 60.0
ORPHAN_SWEEP_SECONDS = 30.0  # abort uploads of cancelled/failed jobs (operator cancels)


def transfer_policy(config: Config) -> TransferPolicy:
    t = config.transfer
    return TransferPolicy(t.part_size, t.parallel_files, t.parallel_parts, t.bandwidth)


def retry_policy(config: Config) -> RetryPolicy:
    r = config.retry
    return RetryPolicy(r.max_attempts, r.backoff_initial, r.backoff_max)


def database_url(config: Config) -> str:
    return config.database or sqlite_url(config.state_dir)


@dataclass
class Signals:
    """What the signal handlers ask the main loop to do."""

    stop: threading.Event
    reload: threading.Event


class Daemon:
    """One running watchd; ``run()`` blocks until it is asked to stop."""

    def __init__(self, config_path: Path, config: Config):
        self.config_path = config_path
        self.config = config
        self.signals = Signals(threading.Event(), threading.Event())
        self.stopping = threading.Event()
        self.started_at = time.time()
        self.lock = DaemonLock(config.state_dir)
        self.db = Database(database_url(config))
        self.transfer = transfer_policy(config)
        self.retry = retry_policy(config)
        self.board = TransferBoard()
        self.throttle = Throttle(self.transfer.bandwidth_bytes_per_second, self.stopping)
        self.health = HealthBoard()
        self.notifier = SystemdNotifier()
        self.summary = "starting"
        self._status_written = time.monotonic()

    # --- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """Bring every part up in order; raises if the daemon cannot run."""
        self.lock.acquire()
        upgrade(self.db.engine)
        key = read_api_key(self.config.flowcapture)
        pool = self.transfer.parallel_files * self.transfer.parallel_parts + 4
        self.client = FlowCaptureClient(
            self.config.flowcapture.email, key, self.config.flowcapture.url, pool_size=pool
        )
        upload = UploadStep(
            self.db, self.client, lambda: self.transfer, self.board, self.throttle.on_chunk
        )
        self.dispatcher_wake = threading.Event()
        self.folders = FolderSet(self.db, self.client, self.config.state_dir, self._poke)
        self.runner = JobRunner(
            self.db,
            upload,
            FinishStep(self.db, self.client),
            self.folders.policies,
            lambda: self.retry,
            available=self.folders.available,
        )
        self.dispatcher = Dispatcher(
            self.db, self.runner.run, self.transfer.parallel_files, self.folders.policies
        )
        self.closer = BatchCloser(
            self.db, self.client, self.folders.idle_seconds, lambda: self.retry
        )
        self.folders.apply(self.config.folders)
        self.scheduler = make_scheduler()
        self._schedule()
        self.scheduler.start()
        self.dispatcher.start()
        self._start_metrics()
        self.write_status()
        self.notifier.ready(self.summary)
        log.info(
            "watchd %s running: %d folder(s), state in %s",
            __version__,
            len(self.config.folders),
            self.config.state_dir,
        )

    def _start_metrics(self) -> None:
        self.metrics: MetricsServer | None = None
        if self.config.metrics is None:
            return
        try:
            self.metrics = MetricsServer(self.config.metrics.listen, self.collect_metrics)
        except OSError as exc:
            self.health.set("metrics", f"cannot listen on {self.config.metrics.listen}: {exc}")
            return
        self.metrics.start()

    def collect_metrics(self) -> str:
        """Return the Prometheus exposition of the daemon's figures."""
        with self.db.reading() as session:
            figures = totals(session)
        return render(daemon_metrics(figures, self.folders.status(), self.health.problems()))

    def _schedule(self) -> None:
        every(self.scheduler, REQUEUE_EVERY_SECONDS, "requeue", self._requeue)
        every(self.scheduler, BATCH_CLOSE_EVERY_SECONDS, "close-batches", self._close_batches)
        every(self.scheduler, self.config.scan.rescan_interval, "rescan", self.folders.rescan_all)
        every(
            self.scheduler, PROJECT_RETRY_EVERY_SECONDS, "projects", self.folders.retry_unresolved
        )
        every(self.scheduler, STATUS_EVERY_SECONDS, "status", self.write_status)
        every(self.scheduler, ORPHAN_SWEEP_SECONDS, "abort-orphans", self.runner.abort_orphans)

    def _poke(self) -> None:
        self.dispatcher.poke()

    def _requeue(self) -> None:
        if requeue_due(self.db):
            self.dispatcher.poke()

    def _close_batches(self) -> None:
        if self.closer.run_once():
            self.dispatcher.poke()

    # --- main loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT; reload on SIGHUP."""
        self._install_signals()
        while not self.signals.stop.is_set():
            if self._alive():
                self.notifier.heartbeat()
            self.signals.stop.wait(1.0)
            if self.signals.reload.is_set():
                self.signals.reload.clear()
                self.notifier.reloading()
                self.reload()
                self.notifier.ready(self.summary)
        self.notifier.stopping()
        self.shutdown()

    def _alive(self) -> bool:
        """True while the parts a heartbeat vouches for work: workers, scheduler, status."""
        fresh = time.monotonic() - self._status_written < STATUS_STALE_SECONDS
        return self.dispatcher.alive() and self.scheduler.running and fresh

    def _install_signals(self) -> None:
        def on_stop(signum: int, _frame: FrameType | None) -> None:
            if self.signals.stop.is_set():
                os._exit(128 + signum)  # second signal: leave now, the database is consistent
            log.info("%s received: stopping", signal.Signals(signum).name)
            self.signals.stop.set()
            self.stopping.set()

        def on_reload(_signum: int, _frame: FrameType | None) -> None:
            self.signals.reload.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)

    def reload(self) -> None:
        """Re-read the configuration; keep the old one if the new one has problems."""
        try:
            config = load_config(self.config_path)
        except Exception as exc:  # noqa: BLE001 - any problem keeps the running config
            log.error("reload refused, keeping the running configuration:\n%s", exc)
            return
        self.transfer = transfer_policy(config)
        self.retry = retry_policy(config)
        self.throttle.set_rate(self.transfer.bandwidth_bytes_per_second)
        if config.transfer.parallel_files != self.config.transfer.parallel_files:
            log.warning("transfer.parallel_files changes take effect at the next restart")
        self.folders.apply(config.folders)
        self.config = config
        log.info("configuration reloaded: %d folder(s)", len(config.folders))

    # --- stop -----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop everything within SHUTDOWN_DEADLINE_SECONDS; nothing committed is lost."""
        deadline = time.monotonic() + SHUTDOWN_DEADLINE_SECONDS
        self.stopping.set()
        log.info("stopping: watchers")
        self.folders.stop_all()
        log.info("stopping: scheduler")
        self.scheduler.shutdown(wait=False)
        log.info("stopping: workers")
        if not self.dispatcher.stop(max(deadline - time.monotonic(), 0.5)):
            log.warning("some uploads did not stop in time; they resume at the next start")
        self.write_status(stopped=True)
        if self.metrics is not None:
            self.metrics.stop()
        self.notifier.close()
        self.client.close()
        self.db.close()
        self.lock.release()
        log.info("stopped")

    # --- status ---------------------------------------------------------------------------

    def write_status(self, stopped: bool = False) -> None:
        """Refresh health, status.json and systemd's STATUS= line."""
        folders = self.folders.status()
        refresh_health(self.health, folders, self.client.auth_error, self.config.state_dir)
        counts = counted_jobs(self.db, self.health)
        self.summary = status_line(len(folders), counts, self.health.problems())
        status: dict[str, Any] = {
            "pid": os.getpid(),
            "version": __version__,
            "config": str(self.config_path),
            "started_at": self.started_at,
            "stopped": stopped,
            "summary": self.summary,
            "problems": self.health.problems(),
            "folders": folders,
            "transfers": self.board.snapshot(),
            "running_jobs": self.dispatcher.running(),
        }
        try:
            write_status(self.config.state_dir, status)
        except OSError as exc:
            self.health.set("state", f"cannot write {self.config.state_dir}: {exc.strerror}")
        else:
            self.health.set("state", None)
            self._status_written = time.monotonic()
        self.notifier.status(self.summary)
