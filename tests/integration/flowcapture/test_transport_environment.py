"""The environment's HTTP proxy settings are honoured, as a requests session would."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from watchd.flowcapture.transport import Transport


class _ForwardProxy(BaseHTTPRequestHandler):
    """Answers in place of the server it is asked for; notes what it was asked."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str, str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        request = json.loads(self.rfile.read(length))
        self.seen.append((self.path, self.headers.get("Accept-Encoding", ""), str(request)))
        body = b'{"data": {"via": "proxy"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def proxy(monkeypatch):
    _ForwardProxy.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{httpd.server_address[1]}")
    yield _ForwardProxy.seen
    httpd.shutdown()
    httpd.server_close()


def test_api_calls_go_through_the_proxy_the_environment_names(proxy):
    transport = Transport("http://flowcapture.invalid/api")  # unresolvable but for the proxy
    answer = transport.call("/get/groups", {"limit": 1}, token="t")
    transport.close()
    assert answer == {"via": "proxy"}
    assert len(proxy) == 1
    path, accept_encoding, _ = proxy[0]
    assert path == "http://flowcapture.invalid/api/get/groups"  # the absolute form a proxy gets
    assert accept_encoding == "identity"  # bodies are used as sent, never compressed
