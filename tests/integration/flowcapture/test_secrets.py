import hashlib
import logging
import os

import pytest

from tests.integration.conftest import DEMO_API_KEY, folder_id
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import AuthenticationError, FlowCaptureError
from watchd.flowcapture.filedata import md5_base64
from watchd.flowcapture.parts import MIB
from watchd.flowcapture.upload import upload_file


def test_no_secret_reaches_logs_exceptions_or_reprs(emulator, client, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    source = tmp_path / "s.mov"
    source.write_bytes(os.urandom(6 * MIB))
    emulator.set_faults(
        {"rules": [{"endpoint": "s3:PUT", "reset": True, "count": 1}], "token_lifetime_s": 60}
    )
    result = upload_file(client, source, project_id=folder_id(client, "Dailies"), part_size=5 * MIB)
    token = client._token
    assert token and len(token) == 64

    fresh = client.upload_init(folder_id(client, "Dailies"), "t.mov")
    url = client.upload_part_url(fresh, 1, md5_base64(hashlib.md5(b"x").digest()))
    signature = url.split("X-Amz-Signature=")[1].split("&")[0]
    emulator.set_faults({"rules": [{"endpoint": "s3:PUT", "status": 500, "rate": 1.0}]})
    with pytest.raises(FlowCaptureError) as caught:
        client.transport.put(url, b"x", 1, {"Content-MD5": md5_base64(hashlib.md5(b"x").digest())})
    logging.getLogger("test").error("upload failed", exc_info=caught.value)

    text = "\n".join(
        [caplog.text, str(caught.value), repr(caught.value), repr(client), repr(result)]
    )
    assert "urllib3" in caplog.text or caplog.records, "debug logging should have captured lines"
    for secret in (DEMO_API_KEY, token, signature):
        assert secret not in text
    state = str(emulator.snapshot())
    for secret in (DEMO_API_KEY, token, signature):
        assert secret not in state


def test_a_key_changed_at_its_source_is_used_at_the_next_login_and_never_logged(emulator, caplog):
    caplog.set_level(logging.DEBUG)
    source = {"key": "an-old-revoked-key"}

    def read_key() -> str:
        if source["key"] == "unreadable":
            raise OSError("Permission denied: /etc/watchd/api_key")
        return source["key"]

    client = FlowCaptureClient(
        "demo@example.com", source["key"], emulator.api_url, key_source=read_key
    )
    with client:
        with pytest.raises(AuthenticationError):
            client.authenticate()
        source["key"] = DEMO_API_KEY
        assert client.authenticate().token
        assert "changed at its source; using the new one" in caplog.text
        source["key"] = "unreadable"
        assert client.authenticate().token  # the key read before stays in use
        assert "cannot read the API key again (Permission denied" in caplog.text
    assert DEMO_API_KEY not in caplog.text and "an-old-revoked-key" not in caplog.text
