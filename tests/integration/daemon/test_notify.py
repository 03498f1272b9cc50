import os
import socket
import uuid

import pytest

from watchd.daemon.notify import SystemdNotifier


@pytest.fixture(params=["path", "abstract"])
def listener(request, tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
        env_value = address
    else:
        name = f"watchd-test-{uuid.uuid4().hex}"
        sock.bind(b"\0" + name.encode())
        env_value = "@" + name
    sock.settimeout(5)
    yield sock, env_value
    sock.close()


def received(sock):
    return dict(line.split("=", 1) for line in sock.recv(4096).decode().splitlines() if "=" in line)


def test_ready_and_status_reach_the_socket(listener):
    sock, env_value = listener
    notifier = SystemdNotifier({"NOTIFY_SOCKET": env_value})
    notifier.ready("1 folder, 0 uploading, 0 queued, 0 failed")
    message = received(sock)
    assert message["READY"] == "1"
    assert message["STATUS"] == "1 folder, 0 uploading, 0 queued, 0 failed"
    assert message["MAINPID"] == str(os.getpid())
    notifier.stopping()
    assert received(sock)["STOPPING"] == "1"
    notifier.close()


def test_watchdog_heartbeats_at_half_the_interval(listener):
    sock, env_value = listener
    now = [100.0]
    notifier = SystemdNotifier(
        {"NOTIFY_SOCKET": env_value, "WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())},
        clock=lambda: now[0],
    )
    notifier.heartbeat()
    assert received(sock) == {"WATCHDOG": "1"}
    now[0] += 4.0
    notifier.heartbeat()  # too soon: nothing sent
    now[0] += 1.0
    notifier.heartbeat()
    assert received(sock) == {"WATCHDOG": "1"}
    sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        sock.recv(4096)


def test_nothing_is_sent_without_notify_socket():
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert notifier.send(READY="1") is False


def test_a_watchdog_meant_for_another_process_is_ignored(listener):
    _, env_value = listener
    notifier = SystemdNotifier(
        {"NOTIFY_SOCKET": env_value, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    )
    assert notifier.watchdog_seconds is None
