"""Stopping cuts requests that wait on the network, instead of waiting out the read timeout."""

import socket
import threading
import time

import pytest

from watchd.flowcapture.errors import TransportError
from watchd.flowcapture.transport import Transport


@pytest.fixture
def silent_server():
    """A server that accepts connections, reads the request and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    listener.close()


def test_interrupt_ends_a_call_blocked_on_a_silent_server_at_once(silent_server):
    transport = Transport(silent_server, read_timeout=60)
    outcome: list[BaseException | None] = []

    def call():
        try:
            transport.call("/get/groups", {}, token="t")
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.5)  # the request is sent and waits for its answer
    assert thread.is_alive()
    started = time.monotonic()
    assert transport.interrupt() >= 1
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    assert isinstance(outcome[0], TransportError)
    transport.close()


def test_interrupt_with_nothing_open_cuts_nothing(silent_server):
    transport = Transport(silent_server)
    assert transport.interrupt() == 0
    transport.close()


def test_a_refused_connection_is_known_not_to_have_reached_the_server(silent_server):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    transport = Transport(f"http://127.0.0.1:{port}")
    with pytest.raises(TransportError) as caught:
        transport.call("/get/groups", {}, token="t")
    assert not caught.value.maybe_sent
    transport.close()


def test_a_cut_connection_may_have_reached_the_server(silent_server):
    transport = Transport(silent_server, read_timeout=60)
    threading.Timer(0.5, transport.interrupt).start()
    with pytest.raises(TransportError) as caught:
        transport.call("/get/groups", {}, token="t")
    assert caught.value.maybe_sent
    transport.close()


def test_interrupting_one_threads_requests_leaves_the_others_waiting(silent_server):
    transport = Transport(silent_server, read_timeout=60)
    outcomes: dict[str, BaseException | None] = {}
    idents: dict[str, int] = {}

    def call(name):
        idents[name] = threading.get_ident()
        try:
            transport.call("/get/groups", {}, token="t")
        except BaseException as exc:
            outcomes[name] = exc

    threads = {name: threading.Thread(target=call, args=(name,)) for name in ("cut", "kept")}
    for thread in threads.values():
        thread.start()
    time.sleep(0.5)
    assert transport.interrupt({idents["cut"]}) == 1
    threads["cut"].join(5)
    assert isinstance(outcomes["cut"], TransportError)
    assert threads["kept"].is_alive()
    transport.interrupt()
    threads["kept"].join(5)
    transport.close()


def test_a_silent_server_times_out_naming_the_wait_and_may_have_acted(silent_server):
    transport = Transport(silent_server, read_timeout=0.3)
    with pytest.raises(TransportError) as caught:
        transport.call("/get/groups", {}, token="t")
    assert str(caught.value) == "/get/groups: timed out (ReadTimeout)"
    assert caught.value.maybe_sent  # the request went out; its answer did not come
    transport.close()
