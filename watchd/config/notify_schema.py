"""Notification targets: the top-level ``notify:`` list (webhooks and email).

A webhook URL carries its token, so it is a secret like the API key: it is
never echoed in a config error here, and the daemon and `watchd notify`
register it with the log redaction before anything is sent. An SMTP password
never sits in the YAML: it comes from ``password_file`` (mode 600) or a
systemd credential.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from watchd.config.fieldtypes import (
    SAMPLE_COMMENTED,
    ConfigPath,
    Duration,
    Email,
    Model,
    NonEmptyStr,
    StrictBool,
    between,
)
from watchd.config.units import format_duration

DEFAULT_SMTP_PORT = 587  # the submission port, where STARTTLS is the rule
DEFAULT_SMTP_CREDENTIAL = "watchd-smtp-password"  # systemd: LoadCredential=watchd-smtp-password:F
MAX_WINDOW_SECONDS = 86400.0  # a digest a day at the least
EventName = Literal["batch_done", "file_failed", "problem", "problem_over", "started", "stopped"]
ALL_EVENTS: list[EventName] = [
    "batch_done",
    "file_failed",
    "problem",
    "problem_over",
    "started",
    "stopped",
]


def _webhook(value: str) -> str:
    # Never repeat the value: the URL holds the target's token.
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("is not an http(s) URL (the value is not shown: it is a secret)")
    return value.strip()


def _smtp_server(value: str) -> str:
    host, sep, port = value.strip().rpartition(":")
    if not sep:
        host, port = value.strip(), str(DEFAULT_SMTP_PORT)
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST or HOST:PORT, e.g. smtp.example.com:587")
    return f"{host}:{port}"


class NotifyTarget(Model):
    """One place notifications go: a webhook (Slack, Teams, Discord...) or an email address."""

    webhook: Annotated[str, AfterValidator(_webhook)] | None = Field(
        default=None,
        repr=False,  # the URL holds a token
        description="incoming webhook URL that takes a JSON POST with a 'text' field (a "
        "secret: never logged)",
        examples=["https://hooks.slack.com/services/T000/B000/XXXX"],
    )
    email: Email | None = Field(
        default=None, description="address mail goes to", examples=["ops@example.com"]
    )
    every: Annotated[Duration, between(0, MAX_WINDOW_SECONDS, format_duration)] = Field(
        default=60.0,
        description="gather events for this long after the first one, then send one message",
    )
    events: list[EventName] = Field(
        default=list(ALL_EVENTS),
        description="what to tell this target: batch_done, file_failed, problem, "
        "problem_over, started, stopped",
    )
    smtp: Annotated[str, AfterValidator(_smtp_server)] | None = Field(
        default=None,
        description="mail server HOST:PORT (email only; port 587 if left out)",
        examples=["smtp.example.com:587"],
    )
    starttls: StrictBool = Field(
        default=True, description="email only: STARTTLS before anything else (false: a local relay)"
    )
    user: NonEmptyStr | None = Field(
        default=None, description="email only: SMTP login user (none: no login)"
    )
    password_file: ConfigPath | None = Field(
        default=None,
        description="email only: file holding the SMTP password, mode 600 (else the systemd "
        f"credential '{DEFAULT_SMTP_CREDENTIAL}')",
        json_schema_extra=SAMPLE_COMMENTED,
    )
    sender: Email | None = Field(
        default=None, description="email only: From address (default: user, else watchd@HOST)"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> NotifyTarget:
        if (self.webhook is None) == (self.email is None):
            raise ValueError("give webhook or email (one per list item)")
        mail_keys = ("smtp", "user", "password_file", "sender")
        if self.webhook is not None:
            given = [k for k in mail_keys if getattr(self, k) is not None]
            if given:
                raise ValueError(f"{', '.join(given)}: only for an email target")
        elif self.smtp is None:
            raise ValueError("an email target needs smtp: HOST:PORT")
        elif self.user is not None and not self.starttls:
            raise ValueError("a login (user) without starttls would send the password in clear")
        if not self.events:
            raise ValueError("events is empty: this target would never hear anything")
        return self

    def describe(self) -> str:
        """Return a name for messages and status: the webhook's host only, or the address."""
        if self.webhook is not None:
            return f"webhook {urlsplit(self.webhook).hostname}"
        return f"email {self.email}"
