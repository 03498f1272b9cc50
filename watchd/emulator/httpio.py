"""HTTP plumbing shared by the API and S3 ports: a threading server that can
drop its open connections on stop, and a keep-alive handler base with
redacted logging, Expect: 100-continue control, deliberate resets and
injected faults (those that replace a success answer included)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn
from urllib.parse import urlsplit

from watchd.emulator.context import Context
from watchd.emulator.errors import EmulatorError
from watchd.emulator.faults import Action

log = logging.getLogger(__name__)

IDLE_TIMEOUT_S = 300  # an idle keep-alive connection is closed after this long
DRAIN_LIMIT_BYTES = 6 * 1024**3  # an unread body up to this size is drained to keep the connection
_DRAIN_CHUNK_BYTES = 1024 * 1024
_SECRETS = re.compile(r"(X-Amz-Signature|X-Amz-Credential|token|api_key)=[^&\s\"']*", re.I)


def redact(text: str) -> str:
    """Return ``text`` with URL signatures and tokens replaced."""
    return _SECRETS.sub(r"\1=REDACTED", text)


class ConnectionAborted(Exception):
    """The handler reset the connection on purpose; nothing more is sent."""


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its open connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHandler], ctx: Context) -> None:
        self.ctx = ctx
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection so keep-alive clients see the stop."""
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("unhandled error serving %s", client_address)


class BaseHandler(BaseHTTPRequestHandler):
    """Keep-alive request handler base; subclasses implement ``do_*``."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    disable_nagle_algorithm = True
    server_version = "FlowCaptureEmulator/1"
    server: EmulatorHTTPServer

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.expect_continue = False
        self.body_consumed = False
        self.response_started = False
        self.after_fault: Action | None = None
        # A new connection costs one round trip before its first request (TCP's
        # handshake): a client that reconnects often pays for it, as on a real link.
        self.pause(float(self.ctx.faults.get("latency_ms")) / 1000.0)

    @property
    def ctx(self) -> Context:
        """The shared emulator context."""
        return self.server.ctx

    @property
    def path_only(self) -> str:
        """The request path without the query string."""
        return urlsplit(self.path).path

    def handle_one_request(self) -> None:
        self.expect_continue = False
        self.body_consumed = False
        self.response_started = False
        self.after_fault = None
        super().handle_one_request()

    def send_response(self, code: int, message: str | None = None) -> None:
        """Start a response; a success answer may be replaced by an armed after-fault.

        Raises:
            ConnectionAborted: the after-fault resets the connection.
            EmulatorError: the after-fault's error status, to be sent instead.
        """
        if 200 <= code < 300 and self.after_fault is not None:
            self._replace_answer(code)
        self.response_started = True
        super().send_response(code, message)

    def before_faults(self, endpoint: str) -> Action | None:
        """Decide this request's injected faults and wait out their latency.

        Returns the action when it fails the request before handling, else
        None; an ``after`` fault is armed for :meth:`send_response` instead.
        """
        action = self.ctx.faults.decide(endpoint)
        self.pause(action.latency_s)
        if action.after:
            self.after_fault = action
            return None
        return action if action.reset or action.status is not None or action.answer_false else None

    def fault_error(self, status: int, retry_after: float | None) -> EmulatorError:
        """Return the error an injected ``status`` fault answers (each port names its codes)."""
        raise NotImplementedError

    def _replace_answer(self, code: int) -> None:
        action, self.after_fault = self.after_fault, None
        if action is None or not self.ctx.faults.fire_after(action):
            return  # spent by a concurrent request, or the rules were replaced meanwhile
        log.info(
            "fault: %s %s took effect; %s instead of %s",
            self.command, self.path_only, "reset" if action.reset else action.status, code,
        )  # fmt: skip
        if action.reset or action.status is None:
            self.reset_connection()
        raise self.fault_error(action.status, action.retry_after)

    def handle_expect_100(self) -> bool:
        self.expect_continue = True  # answered later, once the request is known to be acceptable
        return True

    def send_continue(self) -> None:
        """Tell a client waiting on ``Expect: 100-continue`` to send the body."""
        if self.expect_continue:
            self.expect_continue = False
            self.send_response_only(100)
            self.end_headers()

    def run_guarded(self, serve: Callable[[], None], on_error: Callable[[Exception], None]) -> None:
        """Run ``serve``; a deliberate reset or a vanished client ends the connection,
        anything else is logged and answered through ``on_error`` if still possible."""
        try:
            serve()
        except ConnectionAborted:
            self.close_connection = True
        except (ConnectionError, TimeoutError) as exc:
            log.debug("client went away during %s %s: %s", self.command, self.path_only, exc)
            self.close_connection = True
        except Exception as exc:
            log.exception("error handling %s %s", self.command, self.path_only)
            self.close_connection = True
            if self.response_started:
                return
            with contextlib.suppress(OSError):
                on_error(exc)

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        head_only: bool = False,
    ) -> None:
        """Send a complete response; an unread request body is drained first."""
        self.finish_body()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and not head_only:
            self.wfile.write(body)

    def finish_body(self) -> None:
        """Make the connection reusable: drain an unread body, or mark it for closing."""
        if self.body_consumed:
            return
        self.body_consumed = True
        if self.expect_continue:  # the client has not sent the body and will not
            self.close_connection = True
            return
        length = self.headers.get("Content-Length")
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
        elif length and length.isdigit() and int(length) > 0:
            self._drain(int(length))

    def _drain(self, remaining: int) -> None:
        if remaining > DRAIN_LIMIT_BYTES:
            self.close_connection = True
            return
        while remaining > 0:
            data = self.rfile.read(min(remaining, _DRAIN_CHUNK_BYTES))
            if not data:
                self.close_connection = True
                return
            remaining -= len(data)

    def reset_connection(self) -> NoReturn:
        """Abort the connection with a TCP reset (SO_LINGER 0) and stop handling.

        Raises:
            ConnectionAborted: always.
        """
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(sock.detach())
        except OSError:
            pass
        log.info("fault: reset connection during %s %s", self.command, self.path_only)
        raise ConnectionAborted

    def pause(self, seconds: float) -> None:
        """Wait (injected latency), returning early if the emulator stops."""
        if seconds > 0:
            self.ctx.stop.wait(seconds)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s -> %s", self.command, self.path_only, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s", redact(format % args))
