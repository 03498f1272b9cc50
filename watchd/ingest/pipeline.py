"""Wiring the ingest pipeline once, for the daemon and for `watchd upload`.

The same steps, runner, batch closer and abort sweep serve both; only what
feeds them (watched folders, or files named on the command line) differs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from watchd.base.clock import SYSTEM_CLOCK, Clock
from watchd.base.events import EventSink, ignore_events
from watchd.base.stop import StopToken
from watchd.flowcapture.budget import TransferBudgets
from watchd.flowcapture.buffers import PART_BUFFERS
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.aborts import Aborts
from watchd.ingest.bandwidth import Throttle
from watchd.ingest.batches import BatchCloser
from watchd.ingest.custody_step import CustodyStep
from watchd.ingest.dispatcher import requeue_due
from watchd.ingest.failures import RetryPolicy, longest_wait
from watchd.ingest.finish_step import FinishStep
from watchd.ingest.jobs import JobRunner
from watchd.ingest.policy import FolderPolicy, TransferPolicy
from watchd.ingest.progress import TransferBoard
from watchd.ingest.upload_step import UploadStep
from watchd.store.database import Database


@dataclass(frozen=True)
class PipelineSources:
    """Where the pipeline reads its current settings (they change on reload)."""

    folders: Callable[[], dict[str, FolderPolicy]]
    transfer: Callable[[], TransferPolicy]
    retry: Callable[[], RetryPolicy]
    available: Callable[[str], bool] = lambda _folder: True  # is the drop folder present?
    # Does this node close the folder's batches? (Several nodes: the one watching it.)
    closes: Callable[[str], bool] = lambda _folder: True


@dataclass(frozen=True)
class Pipeline:
    """The connected parts: run a job, close batches, requeue, sweep aborts."""

    db: Database
    client: FlowCaptureClient
    runner: JobRunner
    closer: BatchCloser
    aborts: Aborts
    board: TransferBoard
    throttle: Throttle
    clock: Clock
    custody: CustodyStep

    def requeue(self, clock_set_back: bool = False) -> int:
        """Put waiting jobs whose time has come back in line; return how many.

        ``clock_set_back``: the system clock went back (or may have, before this
        start): waits set further off than any watchd sets end now too.
        """
        return requeue_due(
            self.db,
            self.clock,
            service_ok=self.client.outage is None,
            longest_wait=longest_wait(self.runner.retry()) if clock_set_back else None,
        )


def build_pipeline(
    db: Database,
    client: FlowCaptureClient,
    sources: PipelineSources,
    stop: StopToken,
    *,
    board: TransferBoard | None = None,
    clock: Clock = SYSTEM_CLOCK,
    rng: random.Random | None = None,
    events: EventSink = ignore_events,
) -> Pipeline:
    """Return the pipeline connected to ``db`` and ``client``; ``events`` hears of batches
    done and files failed for good."""
    board = board or TransferBoard()
    transfer = sources.transfer()
    throttle = Throttle(transfer.bandwidth_bytes_per_second, clock.monotonic)
    budgets = TransferBudgets.sized(transfer.buffer_bytes, transfer.connections)
    aborts = Aborts(db, client, clock, budgets.calls)
    PART_BUFFERS.limit_spares(transfer.buffer_bytes)  # no more memory idle than in use
    custody = CustodyStep(db, sources.folders, clock, sources.transfer, stop)
    upload = UploadStep(
        db,
        client,
        sources.transfer,
        board,
        throttle,
        aborts,
        clock,
        budgets,
        custody.verify,
        custody.ready,
    )
    runner = JobRunner(
        db,
        upload,
        FinishStep(db, client, clock, budgets.calls),
        aborts,
        sources.folders,
        sources.retry,
        clock,
        rng,
        sources.available,
        custody.source_policy,
        events,
    )

    def idle_seconds(name: str) -> float | None:
        policy = sources.folders().get(name) if sources.closes(name) else None
        return policy.batch_idle_seconds if policy else None

    def finish_closed(folder_name: str, batch: str, job_ids: list[int]) -> None:
        folder = sources.folders().get(folder_name)
        if folder is not None:
            runner.finish_together(job_ids, folder, batch)

    closer = BatchCloser(
        db, client, idle_seconds, sources.retry, stop, clock, rng, events, finish_closed
    )
    return Pipeline(db, client, runner, closer, aborts, board, throttle, clock, custody)
