"""Sending one message: an HTTP POST to a webhook, or a mail through SMTP with STARTTLS.

Every failure becomes a :class:`DeliveryError` whose text went through the
log redaction (a webhook URL is registered as a secret before anything is
sent, see targets.py).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import requests

from watchd.flowcapture.redact import redact
from watchd.notify.messages import Message

SEND_TIMEOUT_SECONDS = 15.0  # one webhook POST or SMTP conversation step
MAX_ERROR_BODY_CHARS = 200  # of a webhook's error answer, in the log


class DeliveryError(Exception):
    """A message was not delivered; the text is safe to log (redacted)."""


def post_webhook(url: str, message: Message, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
    """POST ``message.body`` as JSON to ``url``; raises DeliveryError unless a 2xx answers."""
    try:
        answer = requests.post(url, json=message.body, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise DeliveryError(redact(f"{type(exc).__name__}: {exc}")) from None
    if not 200 <= answer.status_code < 300:
        body = answer.text.strip().replace("\n", " ")[:MAX_ERROR_BODY_CHARS]
        raise DeliveryError(redact(f"HTTP {answer.status_code}: {body}"))


def send_mail(
    server: str,
    to: str,
    sender: str,
    message: Message,
    *,
    starttls: bool = True,
    user: str | None = None,
    password: str | None = None,
    timeout: float = SEND_TIMEOUT_SECONDS,
    tls_context: ssl.SSLContext | None = None,
) -> None:
    """Mail ``message`` to ``to`` through ``server`` (HOST:PORT); raises DeliveryError.

    With ``starttls`` the session is encrypted before the login and the mail
    (certificate checked against the system's CAs unless ``tls_context`` says
    otherwise); a server that does not offer STARTTLS is refused.
    """
    host, _, port = server.rpartition(":")
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=sender.partition("@")[2] or None)
    mail.set_content(message.text.replace("*", ""))
    try:
        with smtplib.SMTP(host, int(port), timeout=timeout) as smtp:
            smtp.ehlo()
            if starttls:
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{server} does not offer STARTTLS")
                smtp.starttls(context=tls_context or ssl.create_default_context())
                smtp.ehlo()
            if user is not None:
                smtp.login(user, password or "")
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:  # TimeoutError is an OSError
        raise DeliveryError(redact(f"{server}: {type(exc).__name__}: {exc}")) from None
