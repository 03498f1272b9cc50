import hashlib
import logging
import os
import socket
import time

import pytest

from tests.integration.conftest import DEMO_API_KEY, folder_id, short_sleep
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import (
    AuthenticationError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from watchd.flowcapture.filedata import md5_base64
from watchd.flowcapture.parts import MIB
from watchd.flowcapture.upload import upload_file


def request_count(emulator, endpoint):
    return emulator.snapshot()["requests"].get(endpoint, 0)


def test_a_wrong_api_key_is_an_authentication_error(emulator):
    with FlowCaptureClient("demo@example.com", "wrong-key", emulator.api_url) as fc:
        with pytest.raises(AuthenticationError) as caught:
            fc.get_groups()
    assert not caught.value.retryable
    assert "wrong-key" not in str(caught.value)


def test_an_expired_token_is_renewed_once_and_the_call_repeated(emulator, client):
    emulator.set_faults({"token_lifetime_s": 1})
    client.get_groups()
    time.sleep(1.3)
    assert client.get_groups()
    assert request_count(emulator, "/authenticate/api") == 2


def test_a_token_refused_again_after_renewal_is_raised(emulator, client):
    client.get_groups()
    emulator.set_faults({"rules": [{"endpoint": "/get/groups", "status": 401, "count": 2}]})
    with pytest.raises(AuthenticationError):
        client.get_groups()
    assert request_count(emulator, "/authenticate/api") == 2


def test_a_passing_server_error_is_retried(emulator, client):
    emulator.set_faults({"rules": [{"endpoint": "/get/projects", "status": 503, "count": 1}]})
    assert client.get_projects()
    assert request_count(emulator, "/get/projects") == 2


def test_a_lasting_server_error_is_raised_as_retryable(emulator, client):
    emulator.set_faults({"rules": [{"endpoint": "/get/projects", "status": 500, "rate": 1.0}]})
    with pytest.raises(ServerError) as caught:
        client.get_projects()
    assert caught.value.retryable
    assert request_count(emulator, "/get/projects") == 1 + client.retries


def test_rate_limiting_honours_retry_after(emulator, emulator_client_no_retry):
    emulator.set_faults(
        {"rules": [{"endpoint": "/get/groups", "status": 429, "retry_after": 7, "count": 1}]}
    )
    with pytest.raises(RateLimitedError) as caught:
        emulator_client_no_retry.get_groups()
    assert caught.value.retry_after == 7
    assert emulator_client_no_retry.get_groups()


def test_rate_limited_calls_are_retried_after_the_wait(emulator, tmp_path):
    waits = []
    with FlowCaptureClient(
        "demo@example.com", DEMO_API_KEY, emulator.api_url, sleep=waits.append
    ) as fc:
        emulator.set_faults(
            {"rules": [{"endpoint": "/get/groups", "status": 429, "retry_after": 2, "count": 1}]}
        )
        assert fc.get_groups()
    assert waits == [2]


def test_connection_refused_is_a_transport_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FlowCaptureClient(
        "demo@example.com", DEMO_API_KEY, f"http://127.0.0.1:{port}", sleep=short_sleep
    ) as fc:
        with pytest.raises(TransportError) as caught:
            fc.get_groups()
    assert caught.value.retryable


def test_a_connection_reset_mid_put_is_a_transport_error(emulator, client):
    upload = client.upload_init(folder_id(client, "Dailies"), "reset.mov")
    body = os.urandom(6 * MIB)
    md5 = md5_base64(hashlib.md5(body).digest())
    url = client.upload_part_url(upload, 1, md5)
    emulator.set_faults({"rules": [{"endpoint": "s3:PUT", "reset": True, "count": 1}]})
    with pytest.raises(TransportError) as caught:
        client.transport.put(url, body, len(body), {"Content-MD5": md5})
    assert "X-Amz-Signature" not in str(caught.value)


def test_uploads_survive_resets_5xx_and_throttling(emulator, client, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    data = os.urandom(16 * MIB)
    source = tmp_path / "flaky.mov"
    source.write_bytes(data)
    emulator.set_faults(
        {
            "rules": [
                {"endpoint": "s3:PUT", "reset": True, "count": 1},
                {"endpoint": "s3:PUT", "status": 503, "count": 1},
                {"endpoint": "/upload/asset/part", "status": 429, "retry_after": 0, "count": 1},
                {"endpoint": "/upload/asset/part", "status": 502, "count": 1},
            ]
        }
    )
    client.retries = 3
    result = upload_file(client, source, project_id=folder_id(client, "Dailies"), part_size=5 * MIB)
    stored = {o["key"]: o for o in emulator.snapshot()["objects"]}[result.upload.key]
    assert stored["size"] == len(data)
    assert any("trying again" in r.getMessage() for r in caplog.records)


@pytest.fixture
def emulator_client_no_retry(emulator):
    with FlowCaptureClient("demo@example.com", DEMO_API_KEY, emulator.api_url, retries=0) as fc:
        yield fc
