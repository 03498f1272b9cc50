"""A part the object store refuses for its digest (400 BadDigest): read again, sent once more.

Damage on the way is played by sending other bytes than the ones hashed,
against the emulator's real Content-MD5 check.
"""

import hashlib
import os

import pytest

from tests.integration.conftest import folder_id
from watchd.flowcapture.filedata import BufferBody, PartData, md5_base64
from watchd.flowcapture.parts import MIB, plan_parts
from watchd.flowcapture.upload import PartChangedError, _send_part


class DamagedOnce:
    """A part whose first body arrives damaged (one byte flipped) and whose next is intact."""

    def __init__(self, data: bytes):
        self.data = data
        self.bodies = 0

    def body(self, on_read=None):
        self.bodies += 1
        sent = self.data if self.bodies > 1 else bytes([self.data[0] ^ 0xFF]) + self.data[1:]
        return BufferBody(memoryview(sent), on_read)


def start(client, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(os.urandom(6 * MIB))
    upload = client.upload_init(folder_id(client, "Dailies"), name)
    part = plan_parts(6 * MIB, 6 * MIB)[0]
    md5 = md5_base64(hashlib.md5(path.read_bytes()).digest())
    return path, upload, part, md5


def test_bytes_damaged_once_on_the_way_are_sent_again_and_accepted(emulator, client, tmp_path):
    path, upload, part, md5 = start(client, tmp_path, "once.mov")
    damaged = DamagedOnce(path.read_bytes())
    result = _send_part(client, upload, path, part, md5, damaged, None, None)  # type: ignore[arg-type]
    assert damaged.bodies == 2
    assert result.etag.strip('"') == hashlib.md5(path.read_bytes()).hexdigest()


def test_a_part_refused_twice_for_its_digest_fails_as_a_changing_file(emulator, client, tmp_path):
    path, upload, part, md5 = start(client, tmp_path, "twice.mov")
    other = tmp_path / "other.mov"
    other.write_bytes(os.urandom(6 * MIB))
    data = PartData(other, 0, 6 * MIB)  # bytes that never hash to the announced MD5
    try:
        with pytest.raises(PartChangedError, match="refused twice") as caught:
            _send_part(client, upload, path, part, md5, data, None, None)
    finally:
        data.release()
    assert not caught.value.retryable
    assert str(path) in str(caught.value)


def test_a_part_that_reads_differently_now_is_not_sent_again(emulator, client, tmp_path):
    path, upload, part, _ = start(client, tmp_path, "changing.mov")
    data = PartData(path, 0, 6 * MIB)
    stale = md5_base64(hashlib.md5(b"what the file held when it was hashed").digest())
    try:
        with pytest.raises(PartChangedError, match="reads differently now"):
            _send_part(client, upload, path, part, stale, data, None, None)
    finally:
        data.release()
    assert emulator.snapshot()["part_puts"].get(upload.key, {}) == {}, "nothing was accepted"
