"""The ingest core run in-process, step by step, against the emulator over real HTTP.

Like dramatiq's stub worker: the real JobRunner, BatchCloser, requeue step and
abort sweep, a real SQLite file, a fake clock for everything the pipeline
stores, and hooks that run an action at an exact moment of an HTTP call (for
example an operator's cancel while /upload/asset/init is in flight).
"""

from __future__ import annotations

import os
import random
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.base.stop import StopToken
from watchd.emulator import Emulator
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.failures import RetryPolicy
from watchd.ingest.pipeline import Pipeline, PipelineSources, build_pipeline
from watchd.ingest.policy import FolderPolicy, TransferPolicy
from watchd.ingest.queueing import BatchRule, enqueue
from watchd.store.database import Database, sqlite_url
from watchd.store.migrate import upgrade
from watchd.store.models import TERMINAL_JOB_STATES, Job, JobState
from watchd.store.operator_actions import Cancelled, cancel_job, retry_jobs
from watchd.store.queries import load_job

MIB = 1024 * 1024
DAILIES = 1000  # the demo world's "Demo Production/Dailies"
RETRY = RetryPolicy(max_attempts=5, backoff_initial_seconds=1, backoff_max_seconds=4)


class FakeClock:
    """A clock that moves only when told to (Clock protocol)."""

    def __init__(self) -> None:
        self._now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
        self._monotonic = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._monotonic += seconds

    def set_back(self, seconds: float) -> None:
        """The system clock is corrected backwards (monotonic time goes on)."""
        with self._lock:
            self._now -= timedelta(seconds=seconds)


Action = Callable[[], None]


class CallHooks:
    """Runs actions just before an API call or S3 request goes out, or just after its
    answer arrived (before the caller sees it). Keys are API paths or ``s3:PUT``."""

    def __init__(self, client: FlowCaptureClient):
        transport = client.transport
        self._call, self._put = transport.call, transport.put
        transport.call = self._hooked_call  # type: ignore[method-assign]
        transport.put = self._hooked_put  # type: ignore[method-assign]
        self._lock = threading.Lock()
        self._before: dict[str, list[Action]] = defaultdict(list)
        self._after: dict[str, list[Action]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)

    def before(self, key: str, action: Action) -> None:
        """Run ``action`` once, just before the next ``key`` request is sent."""
        with self._lock:
            self._before[key].append(action)

    def after(self, key: str, action: Action) -> None:
        """Run ``action`` once, when the next ``key`` request was answered (or failed)."""
        with self._lock:
            self._after[key].append(action)

    def _take(self, table: dict[str, list[Action]], key: str) -> list[Action]:
        with self._lock:
            self.calls[key] += table is self._before
            actions, table[key] = table[key], []
            return actions

    def _around(self, key: str, send: Callable[[], Any]) -> Any:
        for action in self._take(self._before, key):
            action()
        try:
            return send()
        finally:
            for action in self._take(self._after, key):
                action()

    def _hooked_call(self, path: str, params: Any, token: str | None) -> Any:
        return self._around(path, lambda: self._call(path, params, token))

    def _hooked_put(self, url: str, body: Any, length: int, headers: Any) -> Any:
        return self._around("s3:PUT", lambda: self._put(url, body, length, headers))


@dataclass
class Core:
    """One site's ingest core, driven by the test."""

    emulator: Emulator
    root: Path
    db: Database
    client: FlowCaptureClient
    clock: FakeClock
    hooks: CallHooks
    stop: StopToken
    pipeline: Pipeline = field(init=False)
    policy: FolderPolicy = field(init=False)
    transfer: TransferPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.drop = self.root / "drop"
        self.drop.mkdir()
        self.transfer = TransferPolicy(part_size=5 * MIB, parallel_files=1, parallel_parts=2)
        self.policy = FolderPolicy(
            name="dailies",
            root=self.drop,
            project_id=DAILIES,
            batch_template="{subdir}",
            batch_idle_seconds=0,
            tags=("dailies",),
        )
        sources = PipelineSources(
            lambda: {"dailies": self.policy}, lambda: self.transfer, lambda: RETRY
        )
        self.pipeline = build_pipeline(
            self.db, self.client, sources, self.stop, clock=self.clock, rng=random.Random(3)
        )

    def set_folder(self, **changes: Any) -> None:
        """Change the drop folder's policy (e.g. after_upload="delete", move_to=...)."""
        self.policy = FolderPolicy(**{**self.policy.__dict__, **changes})

    # --- making work ------------------------------------------------------------------

    def write(self, relpath: str, size: int) -> Path:
        path = self.drop / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        return path

    def queue(self, relpath: str, size: int = 6 * MIB) -> int:
        """Write a file into the drop folder and queue it as the watcher would; return its job."""
        path = self.write(relpath, size)
        settled = SettledFile("dailies", path, relpath, Fingerprint.of(path.stat()))
        job = enqueue(self.db, settled, BatchRule(DAILIES, "{subdir}"), self.clock.now())
        assert job is not None
        return job.id

    # --- driving ------------------------------------------------------------------------

    def run(self, job_id: int, stop: StopToken | None = None) -> None:
        self.pipeline.runner.run(job_id, stop or self.stop.child())

    def close_batches(self) -> int:
        return self.pipeline.closer.run_once()

    def requeue(self) -> int:
        return self.pipeline.requeue()

    def step(self, job_id: int) -> JobState:
        """One turn of the daemon's loops for ``job_id``: requeue, run, close; return its state."""
        self.requeue()
        if self.job(job_id).state in (JobState.QUEUED, JobState.UPLOADING, JobState.INGESTING):
            self.run(job_id)
        self.close_batches()
        return self.job(job_id).state

    def drive(self, *job_ids: int, turns: int = 60) -> list[JobState]:
        """Step the jobs, moving time forward, until all are terminal; return their states."""
        for _ in range(turns):
            states = [self.step(job_id) for job_id in job_ids]
            if all(s in TERMINAL_JOB_STATES for s in states):
                return states
            self.clock.advance(10)  # past every retry wait and batch idle time
            threading.Event().wait(0.1)  # the emulator processes assets in real time
        return [self.job(job_id).state for job_id in job_ids]

    # --- the operator -------------------------------------------------------------------

    def cancel(self, job_id: int) -> Cancelled:
        with self.db.transaction() as session:
            return cancel_job(session, job_id, self.clock.now())

    def retry(self, job_id: int) -> list[int]:
        with self.db.transaction() as session:
            return retry_jobs(session, [job_id], self.clock.now()).retried

    # --- looking ------------------------------------------------------------------------

    def job(self, job_id: int) -> Job:
        with self.db.reading() as session:
            return load_job(session, job_id)

    def snapshot(self) -> dict[str, Any]:
        return self.emulator.snapshot()

    def uploads(self, state: str | None = None) -> list[dict[str, Any]]:
        return [u for u in self.snapshot()["uploads"] if state is None or u["state"] == state]

    def assets(self) -> list[dict[str, Any]]:
        return list(self.snapshot()["assets"])

    def requests(self, key: str) -> int:
        return int(self.snapshot()["requests"].get(key, 0))


def make_core(emulator: Emulator, root: Path) -> Core:
    db = Database(sqlite_url(root))
    upgrade(db.engine)
    client = FlowCaptureClient(
        "demo@example.com", "demo-api-key", emulator.api_url, sleep=lambda _s: None
    )
    return Core(emulator, root, db, client, FakeClock(), CallHooks(client), StopToken())
