"""Notifications through real servers on 127.0.0.1: a webhook receiver and SMTP (aiosmtpd)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from tests.integration.ingest.core import FakeClock
from tests.integration.notify.servers import WebhookReceiver, client_context, self_signed
from watchd.base.events import Event, EventKind
from watchd.base.stop import StopToken
from watchd.config.notify_schema import NotifyTarget
from watchd.config.notify_secrets import PasswordError, read_smtp_password
from watchd.notify.messages import Message
from watchd.notify.outbox import Notifier, RetryRule, send_test
from watchd.notify.targets import Target, build_targets
from watchd.store.models import Notification

SECRET_PATH = "/services/T000/B000/s3cretTOKENxyz"
FAST_RETRY = RetryRule(initial_seconds=2, max_seconds=8, max_attempts=3)


def webhook(url: str, every: str = "10s", **extra: Any) -> NotifyTarget:
    return NotifyTarget.model_validate({"webhook": url, "every": every, **extra})


def notifier(db, targets, clock, **kw) -> Notifier:
    built, problems = build_targets(targets)
    assert problems == []
    return Notifier(db, "bay-1", built, clock, StopToken(), retry=FAST_RETRY, **kw)


def failed(path: str, n: int) -> Event:
    return Event(
        EventKind.FILE_FAILED,
        f"{path} failed for good",
        folder="dailies",
        files=1,
        errors=(f"{path}: refused",),
    )


def test_a_burst_of_events_goes_to_a_webhook_as_one_message_when_the_window_ends(db):
    clock = FakeClock()
    with WebhookReceiver() as hook:
        n = notifier(db, [webhook(hook.url(SECRET_PATH))], clock)
        for i in range(300):
            n.event(failed(f"/drop/A{i:04d}.mov", i))
        n.event(Event(EventKind.BATCH_DONE, "", folder="dailies", batch="Day 01", files=3))
        assert n.deliver_due() == 0 and hook.posts == []  # the window is still open
        clock.advance(10)
        assert n.deliver_due() == 1
        assert n.deliver_due() == 0  # nothing left
    ((path, body),) = hook.posts
    assert path == SECRET_PATH
    assert body["event"] == "digest" and body["folder"] == "dailies" and body["batch"] == "Day 01"
    assert body["events_total"] == 301 and len(body["events"]) == 200
    assert body["files"] == 303 and len(body["errors"]) == 50
    assert body["text"].startswith("*watchd on bay-1*\n/drop/A0000.mov failed for good")
    assert "... and 282 more" in body["text"] and body["text"].count("\n") == 20


def test_a_failing_webhook_is_retried_with_backoff_and_a_restart_loses_nothing(db):
    clock = FakeClock()
    with WebhookReceiver() as hook:
        hook.fail_next = 1
        target = webhook(hook.url("/hook"), every="0s")
        first = notifier(db, [target], clock)
        first.event(Event(EventKind.STARTED, "watchd started"))
        assert first.deliver_due() == 0 and hook.posts == []
        with db.reading() as session:
            row = session.scalars(select(Notification)).one()
        assert row.attempts == 1 and row.last_error == "HTTP 500: try later"
        assert row.next_attempt_at is not None and row.sent_at is None
        restarted = notifier(db, [target], clock)  # a new process, the same database
        assert restarted.deliver_due() == 0  # the backoff (1..2 s) is not over
        clock.advance(2)
        assert restarted.deliver_due() == 1
    assert [body["text"] for _path, body in hook.posts] == ["*watchd on bay-1*\nwatchd started"]


def test_events_and_retries_from_before_the_clock_went_back_are_not_held_for_the_jump(db):
    clock = FakeClock()
    with WebhookReceiver() as hook:
        hook.fail_next = 1
        n = notifier(db, [webhook(hook.url("/hook"), every="10s")], clock)
        n.event(Event(EventKind.STARTED, "watchd started"))
        clock.set_back(2 * 3600)  # the event is "two hours from now": its window is over
        assert n.deliver_due() == 0 and hook.fail_next == 0  # sent, and refused
        clock.set_back(2 * 3600)  # the retry (within 8 s) is now far beyond any backoff
        assert n.deliver_due() == 1
    assert [body["text"] for _path, body in hook.posts] == ["*watchd on bay-1*\nwatchd started"]


def test_a_target_out_of_attempts_drops_its_events_and_says_so(db, caplog):
    clock = FakeClock()
    with WebhookReceiver() as hook:
        hook.fail_next = 10
        n = notifier(db, [webhook(hook.url("/hook"), every="0s")], clock)
        n.event(Event(EventKind.STOPPED, "watchd stopped"))
        for _ in range(3):
            n.deliver_due()
            clock.advance(8)
    with db.reading() as session:
        row = session.scalars(select(Notification)).one()
    assert row.dropped_at is not None and row.attempts == 3
    assert "dropped after 3 attempts" in caplog.text


def test_the_webhook_url_is_redacted_from_delivery_errors(db, caplog):
    with socket.socket() as spare:  # a port nothing listens on
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    clock = FakeClock()
    n = notifier(db, [webhook(f"http://127.0.0.1:{port}{SECRET_PATH}", every="0s")], clock)
    n.event(Event(EventKind.STARTED, "watchd started"))
    n.deliver_due(timeout=2)
    with db.reading() as session:
        error = session.scalars(select(Notification.last_error)).one()
    assert error and "ConnectionError" in error
    assert "s3cretTOKENxyz" not in error and "s3cretTOKENxyz" not in caplog.text
    assert "REDACTED" in error
    assert "s3cretTOKENxyz" not in repr(webhook(f"http://h.example.com{SECRET_PATH}"))


def test_queueing_an_event_does_not_wait_for_a_hanging_webhook(db):
    release = threading.Event()
    with WebhookReceiver() as hook:
        hook.hold = release  # the receiver hangs until the test is done
        n = notifier(db, [webhook(hook.url("/hook"), every="0s")], FakeClock(), tick_seconds=0.02)
        n.start()
        n.event(Event(EventKind.STARTED, "watchd started"))
        time.sleep(0.2)  # the delivery thread is now inside the hanging POST
        began = time.monotonic()
        for i in range(100):
            n.event(failed(f"/drop/{i}.mov", i))
        took = time.monotonic() - began
        release.set()
        n.stop.stop("test over")
        assert n.thread is not None
        n.thread.join(5)
    assert took < 2.0  # 100 inserts, no network
    assert len(hook.posts) == 1


def test_targets_a_reload_adds_to_a_daemon_started_without_any_are_delivered_to(db):
    with WebhookReceiver() as hook:
        n = notifier(db, [], FakeClock(), tick_seconds=0.02)
        n.start()
        before = n.thread
        assert before is None, "no targets: no thread yet"
        built, _ = build_targets([webhook(hook.url("/hook"), every="0s")])
        n.replace_targets(built)
        n.event(failed("/drop/A001.mov", 1))
        deadline = time.monotonic() + 5
        while not hook.posts and time.monotonic() < deadline:
            time.sleep(0.02)
        n.stop.stop("test over")
        assert n.thread is not None
        n.thread.join(5)
    assert len(hook.posts) == 1, "delivered while running, not only at the stop"


HOSTILE = "/drop/Day01/<!channel> <https://evil.example|re-login>\nBatch 'Day01' done.mov"


def test_a_hostile_file_name_forges_no_line_header_or_slack_markup(db):
    clock = FakeClock()
    sent: list[Message] = []
    boom = Target("boom", "boom", 0, frozenset({"file_failed"}), fail_with(ValueError("bad")))
    kept = Target("kept", "kept", 0, frozenset({"file_failed"}), lambda m, _t: sent.append(m))
    n = Notifier(db, "bay-1", [boom, kept], clock, StopToken(), retry=FAST_RETRY)
    n.event(failed(HOSTILE, 1))
    assert n.deliver_due() == 1, "the target whose sender raised does not stop the other"
    (message,) = sent
    assert "\n" not in message.subject and message.text.count("\n") == 1
    assert "&lt;!channel&gt;" in message.body["text"] and "<!channel>" not in message.body["text"]
    (row,) = [r for r in db_rows(db) if r.target == "boom"]
    assert row.attempts == 1 and "ValueError: bad" in (row.last_error or "")


def fail_with(error: Exception):
    def send(_message: Message, _timeout: float) -> None:
        raise error

    return send


def db_rows(db) -> list[Notification]:
    with db.reading() as session:
        return list(session.scalars(select(Notification)))


def test_watchd_notify_test_reports_per_target(db):
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = spare.getsockname()[1]
    with WebhookReceiver() as hook:
        targets, _ = build_targets(
            [webhook(hook.url("/ok")), webhook(f"http://127.0.0.1:{dead}/gone/abcdefgh")]
        )
        results = send_test(targets, "bay-1", timeout=2)
    assert [error is None for _t, error in results] == [True, False]
    assert hook.posts[0][1]["event"] == "test"


# --- email -------------------------------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[dict[str, Any]] = []

    async def handle_DATA(self, _server, session, envelope):
        self.mails.append(
            {
                "tls": session.ssl is not None,
                "login": session.login_data,
                "to": envelope.rcpt_tos,
                "mail": message_from_bytes(envelope.content),
            }
        )
        return "250 OK"


def authenticator(_server, _session, _envelope, _mechanism, auth_data):
    ok = auth_data.login == b"watchd" and auth_data.password == b"pa ss:word"
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server(tmp_path: Path):
    """aiosmtpd on 127.0.0.1 requiring STARTTLS (a self-signed certificate) and a login."""
    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    yield box, port, cert
    controller.stop()


def email_target(tmp_path: Path, port: int, **extra: Any) -> NotifyTarget:
    password = tmp_path / "smtp_password"
    password.write_text("pa ss:word\n")
    password.chmod(0o600)
    return NotifyTarget.model_validate(
        {
            "email": "ops@example.com",
            "smtp": f"127.0.0.1:{port}",
            "user": "watchd",
            "password_file": str(password),
            "sender": "watchd@example.com",
            "every": "0s",
            **extra,
        }
    )


def test_email_goes_through_starttls_with_the_password_from_a_file(db, tmp_path, smtp_server):
    box, port, cert = smtp_server
    targets, problems = build_targets(
        [email_target(tmp_path, port)], tls_context=client_context(cert)
    )
    assert problems == []
    n = Notifier(db, "bay-1", targets, FakeClock(), StopToken())
    n.event(Event(EventKind.BATCH_DONE, "", folder="dailies", batch="Day 01", files=2))
    n.event(Event(EventKind.PROBLEM, "health problem: folder dailies: missing"))
    assert n.deliver_due() == 1
    (mail,) = box.mails
    assert mail["tls"] and mail["to"] == ["ops@example.com"]
    assert mail["mail"]["Subject"] == "watchd on bay-1: 2 events (batch_done, problem)"
    body = mail["mail"].get_payload()
    assert "Batch 'Day 01' of dailies done: 2 file(s)" in body
    assert "health problem: folder dailies: missing" in body


def test_email_to_a_server_with_an_unknown_certificate_fails_and_waits(db, tmp_path, smtp_server):
    _box, port, _cert = smtp_server
    targets, _ = build_targets([email_target(tmp_path, port)])  # the system's CAs only
    n = Notifier(db, "bay-1", targets, FakeClock(), StopToken(), retry=FAST_RETRY)
    n.event(Event(EventKind.STARTED, "watchd started"))
    assert n.deliver_due() == 0
    with db.reading() as session:
        error = session.scalars(select(Notification.last_error)).one()
    assert error is not None and "CERTIFICATE_VERIFY_FAILED" in error


def test_an_smtp_password_file_readable_by_others_is_refused(tmp_path):
    target = email_target(tmp_path, 587)
    assert target.password_file is not None
    target.password_file.chmod(0o644)
    with pytest.raises(PasswordError, match=r"readable by others.*chmod 600"):
        read_smtp_password(target)
    _targets, problems = build_targets([target])
    assert len(problems) == 1 and "pa ss" not in problems[0]
