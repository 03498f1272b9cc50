"""The notifier: the event sink that queues, and the thread that delivers.

:meth:`Notifier.event` is what the rest of the daemon calls: one insert per
event (a row per target that wants it), never a network call, and it never
raises. The delivery thread looks once a second (``tick``) for targets whose
oldest waiting event is ``every`` old, sends each one message gathering all
of them, and marks them sent; a failure counts an attempt on all and waits
with the one backoff rule, until ``max_attempts`` drops them. A slow or dead
webhook only ever holds this thread.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from watchd.base.clock import CLOCK_SLACK, Clock
from watchd.base.events import Event, EventKind
from watchd.base.stop import StopToken
from watchd.flowcapture.backoff import backoff_seconds
from watchd.flowcapture.redact import redact
from watchd.notify.messages import compose, from_json, to_json
from watchd.notify.senders import SEND_TIMEOUT_SECONDS, DeliveryError
from watchd.notify.targets import Target
from watchd.store import notifications as outbox
from watchd.store.database import Database

log = logging.getLogger(__name__)

MAX_EVENTS_PER_MESSAGE = 2000  # more wait for the next message (bounded memory and size)
KEEP_DELIVERED = timedelta(days=7)  # sent and dropped events are deleted after this
PRUNE_EVERY_SECONDS = 3600.0
ERROR_BACKOFF_SECONDS = 5.0  # after an unexpected error in the delivery thread


@dataclass(frozen=True)
class RetryRule:
    """How a failed delivery is tried again (per target; the one backoff rule)."""

    initial_seconds: float = 30.0
    max_seconds: float = 3600.0
    max_attempts: int = 30  # about a day at the cap; then the events are dropped (logged)


class Notifier:
    """Queues events for its targets and delivers them on its own thread."""

    def __init__(
        self,
        db: Database,
        node: str,
        targets: list[Target],
        clock: Clock,
        stop: StopToken,
        *,
        retry: RetryRule | None = None,
        tick_seconds: float = 1.0,
        rng: random.Random | None = None,
    ):
        self.db = db
        self.node = node
        self.targets = list(targets)
        self.clock = clock
        self.stop = stop
        self.retry = retry or RetryRule()
        self._longest_backoff = timedelta(seconds=self.retry.max_seconds) + CLOCK_SLACK
        self.tick_seconds = tick_seconds
        self.rng = rng or random.Random()
        self.thread: threading.Thread | None = None
        self._started = False  # start() was called: a thread runs once there are targets
        self._pruned_at = 0.0

    # --- queueing (any thread) ------------------------------------------------------------

    def event(self, event: Event) -> None:
        """Queue ``event`` for every target that wants it; logs, never raises."""
        keys = [t.key for t in self.targets if event.kind.value in t.kinds]
        if not keys:
            return
        try:
            if event.kind == EventKind.BATCH_DONE and event.batch_id is not None:
                size, took = outbox.batch_totals(self.db, event.batch_id)
                event = replace(event, bytes=size, duration_seconds=took)
            clean = replace(
                event, text=redact(event.text), errors=tuple(redact(e) for e in event.errors)
            )
            outbox.enqueue(
                self.db, self.node, keys, event.kind.value, to_json(clean), self.clock.now()
            )
        except SQLAlchemyError as exc:
            log.warning("notification not queued (%s): %s", event.kind, str(exc).splitlines()[0])

    def replace_targets(self, targets: list[Target]) -> None:
        """Use ``targets`` from now on (a reload); what waits for removed ones is dropped."""
        self.targets = list(targets)
        dropped = outbox.forget_targets(
            self.db, self.node, [t.key for t in targets], self.clock.now()
        )
        if dropped:
            log.info("notifications: %d queued event(s) of removed targets dropped", dropped)
        if self._started:
            self._start_thread()  # targets added to a daemon that started with none

    # --- delivering (its own thread) ------------------------------------------------------

    def start(self) -> None:
        """Start the delivery thread (without targets, once a reload brings some)."""
        self._started = True
        self._start_thread()

    def _start_thread(self) -> None:
        if not self.targets or self.thread is not None:
            return
        self.thread = threading.Thread(target=self._loop, name="notify", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(self.tick_seconds):
            try:
                self.deliver_due()
            except Exception:  # no thread dies silently
                log.exception("notifications: delivery pass failed; trying again")
                self.stop.wait(ERROR_BACKOFF_SECONDS)

    def deliver_due(self, *, force: bool = False, timeout: float = SEND_TIMEOUT_SECONDS) -> int:
        """Send one message to each target whose events are due; return how many went.

        ``force`` sends what waits whatever the window and backoff say (at shutdown).
        """
        now = self.clock.now()
        by_key = {t.key: t for t in self.targets}
        sent = 0
        for pending in outbox.pending_by_target(self.db, self.node):
            target = by_key.get(pending.target)
            if target is None or (self.stop.stopped and not force):
                continue
            # Times later than they could have been set came before the clock went back.
            window_over = (
                pending.oldest + timedelta(seconds=target.every_seconds) <= now
                or pending.oldest > now + CLOCK_SLACK
            )
            backoff_over = (
                pending.next_attempt_at is None
                or pending.next_attempt_at <= now
                or pending.next_attempt_at > now + self._longest_backoff
            )
            if force or (window_over and backoff_over):
                sent += self._deliver(target, timeout)
        self._prune()
        return sent

    def _deliver(self, target: Target, timeout: float) -> int:
        rows = outbox.take_pending(self.db, self.node, target.key, MAX_EVENTS_PER_MESSAGE)
        if not rows:
            return 0
        ids = [row_id for row_id, _payload, _attempts in rows]
        message = compose([from_json(payload) for _id, payload, _a in rows], self.node)
        try:
            target.send(message, timeout)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
            said = isinstance(exc, DeliveryError)  # (said already, redacted, by the sender)
            error = str(exc) if said else redact(f"{type(exc).__name__}: {exc}")
            self._failed(target, ids, max(a for _i, _p, a in rows) + 1, error)
            return 0
        outbox.mark_sent(self.db, ids, self.clock.now())
        log.info("notification sent: %s, %d event(s)", target.name, len(ids))
        return 1

    def _failed(self, target: Target, ids: list[int], attempts: int, error: str) -> None:
        now = self.clock.now()
        if attempts >= self.retry.max_attempts:
            outbox.mark_failed(self.db, ids, error, None, now)
            log.error(
                "notification to %s dropped after %d attempts (%d event(s)): %s",
                target.name,
                attempts,
                len(ids),
                error,
            )
            return
        delay = backoff_seconds(
            attempts, initial=self.retry.initial_seconds, cap=self.retry.max_seconds, rng=self.rng
        )
        outbox.mark_failed(self.db, ids, error, now + timedelta(seconds=delay), now)
        log.warning(
            "notification to %s failed (attempt %d, again in %.0fs): %s",
            target.name,
            attempts,
            delay,
            error,
        )

    def _prune(self) -> None:
        mono = self.clock.monotonic()
        if self._pruned_at and mono - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = mono
        outbox.prune(self.db, self.clock.now() - KEEP_DELIVERED)


def send_test(
    targets: list[Target], node: str, timeout: float = SEND_TIMEOUT_SECONDS
) -> list[tuple[Target, str | None]]:
    """Send a test message to each target now (no queue); return (target, error or None)."""
    message = compose(
        [Event(EventKind.TEST, "Test message from `watchd notify --test`: this target works.")],
        node,
    )
    results: list[tuple[Target, str | None]] = []
    for target in targets:
        try:
            target.send(message, timeout)
        except DeliveryError as exc:
            results.append((target, str(exc)))
        else:
            results.append((target, None))
    return results
