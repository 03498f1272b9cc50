"""The daemon: start order, the main loop, reload on SIGHUP, shutdown on SIGTERM.

Start: config -> logs -> lock -> database (upgrade) -> API key and client ->
pipeline -> folders -> scheduler -> dispatcher. Projects resolve in the
background, so neither start nor reload waits on the network. Stop: one stop
token is set first (every worker, wait, scan and retry sleep sees it), then
every thread is joined against one deadline; requests still waiting on the
network are cut just before it. Nothing is lost either way: the next start
resumes from the database.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client.core import Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from watchd import __version__
from watchd.base.clock import SYSTEM_CLOCK
from watchd.base.events import Event, EventKind
from watchd.base.stop import StopToken, join_all
from watchd.config import Config, load_config
from watchd.config.database_secret import database_password_file
from watchd.config.secrets import read_api_key
from watchd.config.units import format_duration
from watchd.daemon.bandwidth_control import BandwidthControl
from watchd.daemon.clock_watch import ClockWatch, cut_after_sleep
from watchd.daemon.folders import PROJECTS_CACHE, FolderSet
from watchd.daemon.health import HealthBoard, store_write_problem
from watchd.daemon.listener import LocalListener
from watchd.daemon.metrics import CONTENT_TYPE, DaemonMetrics, daemon_metrics, node_metrics
from watchd.daemon.notify import SystemdNotifier
from watchd.daemon.periodic import PeriodicWork
from watchd.daemon.runtime_files import (
    STATUS_STALE_SECONDS,
    DaemonLock,
    read_registration,
    write_registration,
    write_status,
)
from watchd.daemon.scheduler import every, make_scheduler, restart_intervals
from watchd.daemon.state_guard import DatabaseGuard
from watchd.daemon.status_page import PageSources, routes
from watchd.daemon.status_report import StatusSources, build_report
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.dispatcher import Dispatcher
from watchd.ingest.failures import RetryPolicy
from watchd.ingest.known_assets import KnownAssets
from watchd.ingest.pipeline import PipelineSources, build_pipeline
from watchd.ingest.policy import FolderPolicy, TransferPolicy, files_at_once
from watchd.ingest.projects import ProjectResolver
from watchd.ingest.receipts_step import ReceiptWriter
from watchd.notify.outbox import Notifier
from watchd.notify.targets import build_targets
from watchd.store.database import Database, database_url
from watchd.store.integrity import RECOVERED_SUFFIX
from watchd.store.leases import SharedClaims, claims_for, nodes
from watchd.store.migrate import upgrade
from watchd.store.models import Job
from watchd.store.queries import totals

log = logging.getLogger(__name__)

SHUTDOWN_DEADLINE_SECONDS = 8.0  # systemd's stop timeout is longer; stay well inside 10 s
CUT_CONNECTIONS_BEFORE_DEADLINE_SECONDS = 3.0  # then requests still waiting are cut
STOPPING = "the daemon is stopping"
NOTIFY_FLUSH_RESERVE_SECONDS = 1.0  # of the stop deadline, kept for closing after the flush


def transfer_policy(config: Config) -> TransferPolicy:
    t = config.transfer
    files = files_at_once(t.parallel_files, t.connections)
    return TransferPolicy(t.part_size, files, t.parallel_parts, None, t.connections, t.buffer)


def retry_policy(config: Config) -> RetryPolicy:
    r = config.retry
    return RetryPolicy(r.max_attempts, r.backoff_initial, r.backoff_max)


class Daemon:
    """One running watchd; ``run()`` blocks until it is asked to stop."""

    def __init__(self, config_path: Path, config: Config, *, reupload: bool = False):
        self.config_path = config_path
        self.config = config
        self.reupload = reupload  # with a new database, upload even what Flow Capture has
        self.fatal: str | None = None  # why the daemon stopped itself
        self.stop = StopToken()
        self.reload_requested = threading.Event()
        self.started_at = time.time()
        self.lock = DaemonLock(config.state_dir)
        self.db = Database(
            database_url(config.database, config.state_dir),
            password_file=database_password_file(config),
            group_sync=True,
        )
        self.transfer = transfer_policy(config)
        self.retry = retry_policy(config)
        targets, self.notify_problems = build_targets(config.notify)
        self.notifications = Notifier(self.db, config.node.name, targets, SYSTEM_CLOCK, self.stop)
        self.health = HealthBoard(self.notifications.event)
        self.notifier = SystemdNotifier()
        self.summary = "starting"
        self.last_status: dict[str, Any] | None = None  # for the status page
        self.leftover_threads: list[threading.Thread] = []
        self._status_written = time.monotonic()
        self.clock_watch = ClockWatch()

    # --- start ----------------------------------------------------------------------------

    def start(self) -> None:
        """Bring every part up in order; raises if the daemon cannot run."""
        self.lock.acquire()
        upgrade(self.db.engine)
        self.db_guard = DatabaseGuard(self.db.url)
        self.health.set("notifications", "; ".join(self.notify_problems) or None)
        lease = self.config.node.lease
        self.claims = claims_for(self.db, self.config.node.name, lease)
        if isinstance(self.claims, SharedClaims):
            self._register_node(self.claims)  # raises NodeNameTaken
            log.info(
                "node %s on a shared queue (%s): leases of %.0fs",
                self.config.node.name,
                self.db.engine.url.render_as_string(hide_password=True),
                lease,
            )
        fresh = self._database_is_new()
        key = read_api_key(self.config.flowcapture)
        pool = self.transfer.connections + self.transfer.parallel_files + 4
        self.client = FlowCaptureClient(
            self.config.flowcapture.email,
            key,
            self.config.flowcapture.url,
            pool_size=pool,
            stop=self.stop,
            key_source=lambda: read_api_key(self.config.flowcapture),
        )
        projects = ProjectResolver(self.client, self.config.state_dir / PROJECTS_CACHE)
        known = None
        if fresh and not self.reupload:
            log.info("the state database is new: files already in Flow Capture are not uploaded")
            known = KnownAssets(self.client, time.monotonic, self.stop)
        self.folders = FolderSet(
            self.db,
            projects,
            self._poke,
            self.stop,
            SYSTEM_CLOCK,
            known,
            self._store_problem,
            self.claims,
        )
        sources = PipelineSources(
            self.folders.policies,
            lambda: self.transfer,
            lambda: self.retry,
            self.folders.available,
            self.folders.watched if self.claims.shared else lambda _folder: True,
        )
        self.pipeline = build_pipeline(
            self.db, self.client, sources, self.stop, events=self.notifications.event
        )
        if not self.claims.shared:
            # Files covered by an offload history are hashed while they settle (with a
            # shared queue another node may run the job: it reads the file itself).
            self.folders.on_seen = self.pipeline.custody.hash_ahead
        self.pipeline.closer.arriving = self.folders.arriving  # a batch waits for its files
        self.bandwidth = BandwidthControl(self.config, SYSTEM_CLOCK)
        self.pipeline.throttle.follow(self.bandwidth.caps)  # schedules and `watchd throttle`
        self.dispatcher = Dispatcher(
            self.db,
            self.pipeline.runner.run,
            self.transfer.parallel_files,
            self.folders.policies,
            self.stop,
            self._store_problem,
            self.claims,
            lease,
            on_idle=self._close_batches_now,
        )
        self.report_sources = StatusSources(
            self.config_path,
            self.config.state_dir,
            self.health,
            self.folders,
            self.client,
            self.db,
            self.pipeline.board,
            self.dispatcher.running,
            self.started_at,
            self.bandwidth.report,
        )
        self.folders.apply(self.config.folders)
        if not self.claims.shared:
            self.folders.left_out_at_start()
        self.scheduler = make_scheduler()
        self.periodic = periodic = PeriodicWork(
            self.pipeline,
            self.folders,
            self.dispatcher,
            self.stop,
            self.write_status,
            self._store_problem,
            ReceiptWriter(self.db, self._receipt_folders, self.config.state_dir),
        )
        periodic.schedule(self.scheduler, self.config.scan.rescan_interval)
        if self.claims.shared:
            every(
                self.scheduler,
                lease / 3,
                "folder-leases",
                periodic.guarded(self.folders.hold_leases),
                first_in=timedelta(0),
            )
        self.scheduler.start()
        self.dispatcher.start()
        self.write_status()
        self._start_listener()
        self.notifier.ready(self.summary)
        log.info(
            "watchd %s running: %d folder(s), state in %s",
            __version__,
            len(self.config.folders),
            self.config.state_dir,
        )
        self.notifications.start()
        self.notifications.event(
            Event(EventKind.STARTED, f"watchd {__version__} started: {self.summary}")
        )

    def _register_node(self, claims: SharedClaims) -> None:
        """Register this node, taking over from this state folder's crashed daemon at once.

        Raises NodeNameTaken.
        """
        state_dir = self.config.state_dir
        registration = claims.register(read_registration(state_dir))
        try:
            write_registration(state_dir, registration)
        except OSError as exc:  # only a restart after a crash waits out its lease
            log.warning("cannot write %s: %s", exc.filename, exc.strerror)

    def _database_is_new(self) -> bool:
        """True for an empty database, or one `watchd db recover` made (consumed here)."""
        database = self.db_guard.path
        marker = database.with_name(database.name + RECOVERED_SUFFIX) if database else None
        if marker is not None and marker.exists():
            marker.unlink(missing_ok=True)
            return True
        with self.db.reading() as session:
            return session.scalar(select(func.count(Job.id))) == 0

    def _start_listener(self) -> None:
        """Serve /metrics and the status page where ``metrics.listen`` says (if set)."""
        self.listener: LocalListener | None = None
        if self.config.metrics is None:
            return
        metrics = DaemonMetrics(self.collect_metrics)
        self.pipeline.board.add_listener(metrics.transfers)
        lease = self.config.node.lease if self.claims.shared else None
        page = PageSources(lambda: self.last_status, self.pipeline.board.snapshot, self.db, lease)
        served = routes(lambda: (CONTENT_TYPE, metrics.exposition()), page)
        try:
            self.listener = LocalListener(self.config.metrics.listen, served)
        except OSError as exc:
            self.health.set("metrics", f"cannot listen on {self.config.metrics.listen}: {exc}")
            return
        self.listener.start()

    def collect_metrics(self) -> list[Metric]:
        """Return the metric families read from the database, folders and health."""
        with self.db.reading(display=True) as session:
            figures = totals(session)
        families = daemon_metrics(figures, self.folders.status(), self.health.problems())
        if self.claims.shared:
            families += node_metrics(nodes(self.db), self.config.node.lease)
        return families

    def _receipt_folders(self) -> dict[str, FolderPolicy]:
        """The folders whose receipts this node writes: all, or those it watches (shared)."""
        policies = self.folders.policies()
        if not self.claims.shared:
            return policies
        return {name: p for name, p in policies.items() if self.folders.watched(name)}

    def _poke(self) -> None:
        self.dispatcher.poke()

    def _store_problem(self, error: Exception | None) -> None:
        problem = None if error is None else store_write_problem(error, self.config.state_dir)
        self.health.set("database writes", problem)

    # --- main loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT; reload on SIGHUP. The network never blocks this loop."""
        self._install_signals()
        while not self.stop.stopped:
            self._notice_clock_changes()
            if self._alive():
                self.notifier.heartbeat()
            self.stop.wait(1.0)
            if self.reload_requested.is_set() and not self.stop.stopped:
                self.reload_requested.clear()
                self.notifier.reloading()
                self.reload()
                self.notifier.ready(self.summary)
        self.notifier.stopping()
        self.shutdown()

    def _notice_clock_changes(self) -> None:
        """Restart the periodic timers after the clock was set back; after a sleep, cut the
        connections from before it (a request on one would hang until its read timeout).
        Never raises: this runs in the main loop."""
        try:
            self._act_on_clock_changes()
        except Exception:
            log.exception("acting on a change of the system clock failed; going on")

    def _act_on_clock_changes(self) -> None:
        change = self.clock_watch.look()
        if change.set_back:
            log.warning(
                "the system clock was set back %s: periodic work starts its intervals "
                "again from now",
                format_duration(round(change.set_back)),
            )
            restart_intervals(self.scheduler)
            self.periodic.clock_set_back()
        cut_after_sleep(change, self.client.transport.interrupt)

    def _alive(self) -> bool:
        """True while the parts a heartbeat vouches for work: workers, scheduler, status."""
        fresh = time.monotonic() - self._status_written < STATUS_STALE_SECONDS
        return self.dispatcher.alive() and self.scheduler.running and fresh

    def _install_signals(self) -> None:
        def on_stop(signum: int, _frame: FrameType | None) -> None:
            if self.stop.stopped:
                os._exit(128 + signum)  # second signal: leave now, the database is consistent
            log.info("%s received: stopping", signal.Signals(signum).name)
            self.stop.stop(STOPPING)

        def on_reload(_signum: int, _frame: FrameType | None) -> None:
            self.reload_requested.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)

    def reload(self) -> None:
        """Re-read the configuration; keep the old one if the new one has problems."""
        try:
            config = load_config(self.config_path)
        except Exception as exc:  # noqa: BLE001 - any problem keeps the running config
            log.error("reload refused, keeping the running configuration:\n%s", exc)
            said = str(exc).splitlines() or [type(exc).__name__]
            more = f" (and {len(said) - 1} more)" if len(said) > 1 else ""
            self.health.set(
                "configuration",
                f"reload refused, running on the configuration from before: {said[0]}{more}; "
                "`watchd check-config` lists it all",
            )
            return
        self.health.set("configuration", None)
        self.transfer = transfer_policy(config)
        self.retry = retry_policy(config)
        self.bandwidth.configure(config)
        for key in ("parallel_files", "connections", "buffer"):
            if getattr(config.transfer, key) != getattr(self.config.transfer, key):
                log.warning("transfer.%s changes take effect at the next restart", key)
        self.folders.apply(config.folders)
        targets, problems = build_targets(config.notify)
        self.notifications.replace_targets(targets)
        self.health.set("notifications", "; ".join(problems) or None)
        self.config = config
        self.scheduler.modify_job("projects", next_run_time=SYSTEM_CLOCK.now())  # resolve new ones
        log.info("configuration reloaded: %d folder(s)", len(config.folders))

    def _close_batches_now(self) -> None:
        """The last upload ended: run the batch closer now instead of at its next tick.

        On a thread of its own (the dispatcher's must not wait on /complete/upload), not
        through the scheduler, which would warn when its own run is under way.
        """
        threading.Thread(
            target=self.periodic.close_batches, args=(True,), name="close-batches-now", daemon=True
        ).start()

    # --- stop -----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop everything within SHUTDOWN_DEADLINE_SECONDS; nothing committed is lost.

        The stop token is set first, so every loop, wait and transfer sees it at
        once; then all threads are joined against one deadline, and requests
        still waiting on the network are cut a little before it.
        """
        deadline = time.monotonic() + SHUTDOWN_DEADLINE_SECONDS
        self.stop.stop(STOPPING)
        log.info("stopping: watchers, scheduler and workers")
        self.scheduler.shutdown(wait=False)
        threads = [*self.dispatcher.threads(), *self.folders.threads()]
        threads += [self.notifications.thread] if self.notifications.thread else []
        left = join_all(threads, deadline - CUT_CONNECTIONS_BEFORE_DEADLINE_SECONDS)
        if left:
            log.info("stopping: cutting requests still waiting on the network")
            self.client.transport.interrupt()
            left = join_all(left, deadline)
        if left:
            names = ", ".join(t.name for t in left)
            log.warning(
                "still busy at the stop deadline (%s); they resume at the next start", names
            )
        self.leftover_threads = left
        self._give_back_leases()
        self._tell_stopped(deadline)
        self.write_status(stopped=True)
        if self.listener is not None:
            self.listener.stop()
        self.notifier.close()
        self.client.close()
        self.db.close()
        self.lock.release()
        log.info("stopped")

    def _tell_stopped(self, deadline: float) -> None:
        """Queue "stopped" and send what waits now, if time allows (else at the next start)."""
        why = self.fatal or "stopped on request"
        self.notifications.event(Event(EventKind.STOPPED, f"watchd stopped: {why}"))
        left = deadline - time.monotonic() - NOTIFY_FLUSH_RESERVE_SECONDS
        if left > 0.5:
            try:
                self.notifications.deliver_due(force=True, timeout=min(left, 3.0))
            except Exception:
                log.exception("notifications: not sent at the stop; they go at the next start")

    def _give_back_leases(self) -> None:
        """A clean stop on a shared queue: other nodes take this one's work over at once."""
        if not self.claims.shared:
            return
        try:
            self.claims.stop()
        except SQLAlchemyError as exc:
            log.warning(
                "could not give the leases back (%s); other nodes take the work over when "
                "they run out",
                str(exc).splitlines()[0],
            )
        else:
            log.info("leases given back: other nodes may take this node's work over now")

    # --- status ---------------------------------------------------------------------------

    def write_status(self, stopped: bool = False) -> None:
        """Refresh health, status.json and systemd's STATUS= line."""
        gone = self.db_guard.problem()
        if gone is not None and self.fatal is None:
            self.fatal = gone
            log.error("%s", gone)
            self.stop.stop(STOPPING)
            return
        self.summary, status = build_report(self.report_sources, stopped=stopped)
        self.last_status = status
        try:
            write_status(self.config.state_dir, status)
        except OSError as exc:
            self.health.set("state", f"cannot write {self.config.state_dir}: {exc.strerror}")
        else:
            self.health.set("state", None)
            self._status_written = time.monotonic()
        self.notifier.status(self.summary)
