"""Requests reuse their connections: a part PUT or an API call does not open a new one."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from watchd.flowcapture.transport import Transport


class _KeepAlive(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps connections open between requests

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("ETag", '"etag"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0

    def process_request(self, request, client_address):
        self.connections += 1
        super().process_request(request, client_address)


@pytest.fixture
def server():
    httpd = _CountingServer(("127.0.0.1", 0), _KeepAlive)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_part_puts_one_after_another_share_one_connection(server):
    url = f"http://127.0.0.1:{server.server_address[1]}"
    transport = Transport(url)
    for number in range(5):
        body = bytes([number]) * 4096
        response = transport.put(f"{url}/bucket/key?partNumber={number}", body, len(body), {})
        assert response.headers["ETag"] == '"etag"'
    assert server.connections == 1
    transport.close()


def test_api_calls_one_after_another_share_one_connection(server):
    transport = Transport(f"http://127.0.0.1:{server.server_address[1]}")
    for _ in range(5):
        assert transport.call("/get/groups", {}, token="t") == {"ok": True}
    assert server.connections == 1
    transport.close()
