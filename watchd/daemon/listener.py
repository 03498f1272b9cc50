"""The daemon's local HTTP listener (``metrics: {listen: 127.0.0.1:9464}``).

Read-only: GET of a few fixed paths (/metrics, the status page and its
parts), each answered by a function returning a content type and a body.
Every answer forbids caching, and pages may load nothing from elsewhere
(Content-Security-Policy), so the status page works with no network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

Route = Callable[[], tuple[str, bytes]]  # returns (content type, body)

# Nothing from another origin: no CDN, fonts or images; fetch() only back to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
)


class LocalListener:
    """Serves ``routes`` (path -> Route) on HOST:PORT in a background thread."""

    def __init__(self, listen: str, routes: Mapping[str, Route]):
        host, _, port = listen.rpartition(":")
        self.routes = dict(routes)
        self._server = ThreadingHTTPServer(
            (host.strip("[]") or "127.0.0.1", int(port)), _handler(self.routes)
        )
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="listener", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        host = self._server.server_address[0]
        log.info("status page on http://%s:%d/, metrics on /metrics", host, self.port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(routes: Mapping[str, Route]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?")[0])
            if route is None:
                self.send_error(404, "served here: " + ", ".join(sorted(routes)))
                return
            try:
                content_type, body = route()
            except Exception:
                log.exception("answering GET %s failed", self.path.split("?")[0])
                self.send_error(500, "see the watchd log")
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("listener: " + format, *args)

    return Handler
