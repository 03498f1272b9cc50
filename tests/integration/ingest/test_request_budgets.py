"""Many files at once: API calls and PUTs in flight each stay within their budget."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import update

from tests.integration.ingest.core import DAILIES, MIB, RETRY, Core
from watchd.base.stop import Stopped, StopToken
from watchd.flowcapture.budget import Budget
from watchd.flowcapture.errors import RateLimitedError
from watchd.flowcapture.filedata import md5_base64
from watchd.ingest.pipeline import PipelineSources, build_pipeline
from watchd.ingest.policy import TransferPolicy, files_at_once
from watchd.store.models import Job, JobState

FLOW_CALLS = ("/upload/asset/init", "/upload/asset/part", "/upload/asset/complete")


class InFlight:
    """Counts the upload flow's API calls and PUTs under way, and the most of each."""

    def __init__(self, core: Core, counted: tuple[str, ...] = FLOW_CALLS):
        self.lock = threading.Lock()
        self.now = {"calls": 0, "puts": 0}
        self.most = {"calls": 0, "puts": 0, "both": 0}
        transport = core.client.transport
        call, put = transport.call, transport.put
        transport.call = lambda path, params, token: self._count(  # type: ignore[method-assign]
            "calls" if path in counted else None, lambda: call(path, params, token)
        )
        transport.put = lambda *args: self._count("puts", lambda: put(*args))  # type: ignore[method-assign]

    def _count(self, kind: str | None, send: Callable[[], Any]) -> Any:
        if kind is None:
            return send()
        with self.lock:
            self.now[kind] += 1
            self.most[kind] = max(self.most[kind], self.now[kind])
            self.most["both"] = max(self.most["both"], self.now["calls"] + self.now["puts"])
        try:
            return send()
        finally:
            with self.lock:
                self.now[kind] -= 1


def test_files_beyond_the_connections_go_up_with_calls_and_puts_each_within_budget(core):
    core.emulator.set_faults({"latency_ms": 40})  # every request takes a while
    transfer = TransferPolicy(part_size=5 * MIB, parallel_parts=2, connections=2)
    sources = PipelineSources(lambda: {"dailies": core.policy}, lambda: transfer, lambda: RETRY)
    pipeline = build_pipeline(core.db, core.client, sources, core.stop, clock=core.clock)
    jobs = [core.queue(f"card/small{n}.mov", MIB) for n in range(10)]
    jobs.append(core.queue("card/big.mov", 12 * MIB))  # three parts, URLs asked ahead
    seen = InFlight(core)
    with ThreadPoolExecutor(files_at_once(None, transfer.connections)) as pool:
        list(pool.map(lambda job: pipeline.runner.run(job, core.stop.child()), jobs))
    core.close_batches()
    for job in jobs:
        core.run(job)  # INGESTING -> DONE
    assert [core.job(job).state for job in jobs] == [JobState.DONE] * len(jobs)
    assert seen.most["calls"] == 2, "API calls of the flow: at most the connections, and used"
    assert seen.most["puts"] <= 2
    assert seen.most["both"] > 2, "PUTs went out while other files' calls were under way"


def test_files_at_once_are_twice_the_connections_unless_configured():
    assert files_at_once(None, 32) == 64
    assert files_at_once(None, 1) == 2
    assert files_at_once(5, 32) == 5


def test_a_stop_while_complete_waits_for_a_call_slot_records_no_complete_as_sent(core):
    calls = core.pipeline.runner.upload.budgets.calls
    assert calls is not None
    job = core.queue("card/a.mov", MIB)  # one part: its ETag goes in with "complete sent"
    stop = core.stop.child()
    # Once the part is sent, every call slot is taken elsewhere: complete has to wait.
    core.hooks.after("s3:PUT", lambda: calls.acquire(calls.limit))
    runner = threading.Thread(target=core.run, args=(job, stop))
    runner.start()
    deadline = time.monotonic() + 10
    while calls.used < calls.limit and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # (complete is waiting for a slot)
    stop.stop("the daemon is stopping")
    runner.join(10)
    calls.release(calls.limit)
    assert not runner.is_alive()
    after = core.job(job)
    assert after.complete_sent_at is None, "complete was never sent: not recorded as sent"
    assert after.state is JobState.UPLOADING
    assert core.requests("/upload/asset/complete") == 0
    assert calls.used == 0
    core.run(job)  # the next run completes it as usual
    assert core.job(job).state is JobState.UPLOADED  # (its batch closes next)


def budgeted_pipeline(core: Core, connections: int):
    transfer = TransferPolicy(part_size=5 * MIB, parallel_parts=2, connections=connections)
    sources = PipelineSources(lambda: {"dailies": core.policy}, lambda: transfer, lambda: RETRY)
    return build_pipeline(core.db, core.client, sources, core.stop, clock=core.clock)


def test_tagging_and_aborts_take_call_slots_too(core):
    pipeline = budgeted_pipeline(core, connections=2)
    tagged = [core.queue(f"card/t{n}.mov", MIB) for n in range(6)]
    for job in tagged:
        pipeline.runner.run(job, core.stop.child())
    pipeline.closer.run_once()
    open_ones = [core.queue(f"card/o{n}.mov", MIB) for n in range(6)]
    with core.db.transaction() as session:  # uploads to abort (the service knows none)
        session.execute(
            update(Job)
            .where(Job.id.in_(open_ones))
            .values(upload_id="gone", key="gone", state=JobState.CANCELLED)
        )
    core.emulator.set_faults({"latency_ms": 40})
    seen = InFlight(core, ("/update/asset", "/upload/asset/abort"))
    with ThreadPoolExecutor(12) as pool:
        finished = pool.map(lambda job: pipeline.runner.run(job, core.stop.child()), tagged)
        aborted = list(pool.map(pipeline.aborts.abort, open_ones))
        list(finished)
    assert [core.job(job).state for job in tagged] == [JobState.DONE] * 6
    assert [a["tags"] for a in core.assets()] == [["dailies"]] * 6
    assert aborted == [True] * 6 and core.requests("/upload/asset/abort") == 6
    assert seen.most["calls"] == 2, "tagging and aborts: at most the connections at once"


def test_a_job_cancelled_before_complete_gives_its_call_slot_back_before_aborting(core):
    pipeline = budgeted_pipeline(core, connections=1)  # one slot: the abort needs it
    job = core.queue("card/a.mov", MIB)
    core.hooks.after("s3:PUT", lambda: core.cancel(job))
    runner = threading.Thread(
        target=pipeline.runner.run, args=(job, core.stop.child()), daemon=True
    )
    runner.start()
    runner.join(20)
    assert not runner.is_alive(), "the abort waited for the slot its own job held"
    assert core.job(job).state is JobState.CANCELLED and core.job(job).upload_id is None
    assert core.uploads("open") == [] and core.requests("/upload/asset/complete") == 0
    calls = pipeline.runner.upload.budgets.calls
    assert calls is not None and calls.used == 0


class HeldBack(StopToken):
    """A stop token whose waits to try again last until ``released`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def sleep(self, seconds: float) -> None:
        assert self.released.wait(10), "never released"
        self.check()


def test_a_call_waiting_to_try_again_holds_no_call_slot(core):
    calls = Budget(1)  # one call at a time
    first, second = (core.client.upload_init(DAILIES, name) for name in ("a.mov", "b.mov"))
    md5 = md5_base64(hashlib.md5(b"part").digest())
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/part", "status": 503, "count": 1}]}
    )
    sent: list[str] = []  # the upload each /upload/asset/part went out for
    call = core.client.transport.call

    def logged(path: str, params: Any, token: str | None) -> Any:
        sent.append(params["key"])
        return call(path, params, token)

    core.client.transport.call = logged
    held = HeldBack()
    retried = threading.Thread(
        target=core.client.upload_part_url,
        args=(first, 1, md5),
        kwargs={"stop": held, "calls": calls},
    )
    retried.start()
    deadline = time.monotonic() + 5
    while not (sent and calls.used == 0) and time.monotonic() < deadline:
        time.sleep(0.005)  # the first try failed (503); its wait to try again began
    patience = StopToken()  # (a slot never given back would make the call below wait for ever)
    threading.Timer(5, patience.stop, args=("no slot in 5 s",)).start()
    assert core.client.upload_part_url(second, 1, md5, stop=patience, calls=calls)
    held.released.set()
    retried.join(10)
    assert not retried.is_alive()
    assert sent == [first.key, second.key, first.key], "the other call went out meanwhile"
    assert calls.used == 0


def test_an_abort_waiting_for_a_call_slot_ends_when_the_daemon_stops(core):
    pipeline = budgeted_pipeline(core, connections=1)
    calls = pipeline.aborts.calls
    assert calls is not None
    job = core.queue("card/a.mov", MIB)
    with core.db.transaction() as session:  # an upload left to abort
        session.execute(
            update(Job)
            .where(Job.id == job)
            .values(upload_id="left", key="left", state=JobState.CANCELLED)
        )
    core.client.stop = core.stop  # as the daemon's client (app.py)
    calls.acquire(1)  # every slot in use elsewhere
    result: list[bool] = []
    aborting = threading.Thread(target=lambda: result.append(pipeline.aborts.abort(job)))
    aborting.start()
    time.sleep(0.2)
    assert aborting.is_alive(), "waiting for a slot"
    core.stop.stop("the daemon is stopping")
    aborting.join(5)
    ended = not aborting.is_alive()
    calls.release(1)
    assert ended, "the stop ended the wait for a slot"
    assert result == [False] and core.job(job).upload_id == "left", "kept for the next sweep"
    assert core.requests("/upload/asset/abort") == 0


def test_a_stop_while_a_call_waits_for_a_slot_sends_nothing_even_if_a_slot_frees_then(core):
    calls = Budget(1)
    calls.acquire(1)  # held elsewhere
    stop = StopToken()
    outcome: list[object] = []

    def init() -> None:
        try:
            outcome.append(core.client.upload_init(DAILIES, "a.mov", stop=stop, calls=calls))
        except Stopped as exc:
            outcome.append(exc)

    waiting = threading.Thread(target=init)
    waiting.start()
    time.sleep(0.1)
    stop.stop("the daemon is stopping")  # (every holder is stopped and gives its slot back)
    calls.release(1)
    waiting.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], Stopped)
    assert core.requests("/upload/asset/init") == 0, "no upload made after the stop"
    assert calls.used == 0


def test_a_429_holds_back_every_call_for_the_pause_it_asked_for(core):
    first, second = (core.client.upload_init(DAILIES, name) for name in ("a.mov", "b.mov"))
    md5 = md5_base64(hashlib.md5(b"part").digest())
    core.emulator.set_faults(
        {"rules": [{"endpoint": "/upload/asset/part", "status": 429, "retry_after": 1, "count": 1}]}
    )
    sent: list[tuple[str, float]] = []  # (upload key, when the request went out)
    refused = threading.Event()
    refused_at: list[float] = []
    call = core.client.transport.call

    def logged(path: str, params: Any, token: str | None) -> Any:
        sent.append((params["key"], time.monotonic()))
        try:
            return call(path, params, token)
        except RateLimitedError:
            refused_at.append(time.monotonic())
            refused.set()
            raise

    core.client.transport.call = logged
    urls: list[str] = []
    refused_one = threading.Thread(
        target=lambda: urls.append(core.client.upload_part_url(first, 1, md5, stop=StopToken()))
    )
    refused_one.start()
    assert refused.wait(10)
    urls.append(core.client.upload_part_url(second, 1, md5, stop=StopToken()))  # not refused
    refused_one.join(10)
    assert len(urls) == 2 and all(urls)
    others = [at for key, at in sent if key == second.key]
    assert len(others) == 1, "the other upload's call was not refused: it waited"
    assert others[0] - refused_at[0] >= 0.9, "it went out only after the pause (Retry-After 1)"
    assert len(refused_at) == 1 and len(sent) == 3
