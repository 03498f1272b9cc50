"""Notification targets ready to send: config, secrets read, the webhook URL redacted.

Each target has a stable ``key`` stored with its queued events (a hash, never
the URL), so what waits for a target survives a restart and a reload that
keeps it.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from watchd.config.notify_schema import NotifyTarget
from watchd.config.notify_secrets import PasswordError, read_smtp_password
from watchd.flowcapture.redact import register_secret
from watchd.notify.messages import Message
from watchd.notify.senders import post_webhook, send_mail

MIN_SECRET_PATH_CHARS = 8  # a webhook path shorter than this carries no token worth hiding


@dataclass(frozen=True)
class Target:
    """A place messages go, with how long it gathers events and which it wants."""

    key: str
    name: str  # for logs and output: the webhook's host, or the email address
    every_seconds: float
    kinds: frozenset[str]
    send: Callable[[Message, float], None]  # (message, timeout); raises DeliveryError


def target_key(target: NotifyTarget) -> str:
    """Return the key the outbox files ``target``'s events under (no secret in it)."""
    identity = target.webhook if target.webhook is not None else f"{target.email}|{target.smtp}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return f"{'webhook' if target.webhook is not None else 'email'}-{digest}"


def register_webhook(url: str) -> None:
    """Make the log redaction hide ``url`` and its path (errors quote either)."""
    register_secret(url)
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(parts.path) >= MIN_SECRET_PATH_CHARS:
        register_secret(path)
        register_secret(parts.path)


def build_targets(
    configured: list[NotifyTarget],
    environ: Mapping[str, str] | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> tuple[list[Target], list[str]]:
    """Return the targets ready to send, and a problem sentence for each that is not.

    ``tls_context`` overrides the system's CAs for STARTTLS (tests use their own).
    """
    targets: list[Target] = []
    problems: list[str] = []
    for item in configured:
        kinds = frozenset(item.events)
        if item.webhook is not None:
            register_webhook(item.webhook)
            url = item.webhook

            def send_webhook(message: Message, timeout: float, url: str = url) -> None:
                post_webhook(url, message, timeout)

            targets.append(
                Target(target_key(item), item.describe(), item.every, kinds, send_webhook)
            )
            continue
        try:
            password = read_smtp_password(item, environ)
        except PasswordError as exc:
            problems.append(str(exc))
            continue
        register_secret(password)
        targets.append(
            Target(
                target_key(item),
                item.describe(),
                item.every,
                kinds,
                _mailer(item, password, tls_context),
            )
        )
    return targets, problems


def _mailer(
    item: NotifyTarget, password: str | None, tls_context: ssl.SSLContext | None
) -> Callable[[Message, float], None]:
    assert item.email is not None and item.smtp is not None
    sender = item.sender or (item.user if item.user and "@" in item.user else None)
    sender = sender or f"watchd@{socket.getfqdn()}"
    to, server = item.email, item.smtp

    def send(message: Message, timeout: float) -> None:
        send_mail(
            server,
            to,
            sender,
            message,
            starttls=item.starttls,
            user=item.user,
            password=password,
            timeout=timeout,
            tls_context=tls_context,
        )

    return send
