import hashlib
import os
import time
import uuid

import pytest

from tests.integration.conftest import folder_id, wait_for
from watchd.flowcapture.download import download_asset
from watchd.flowcapture.errors import (
    BadRequestError,
    DigestMismatchError,
    FlowCaptureError,
    PresignedUrlExpiredError,
    UploadNotFoundError,
)
from watchd.flowcapture.filedata import md5_base64
from watchd.flowcapture.parts import MIB, plan_parts
from watchd.flowcapture.upload import upload_file, upload_parts


def multipart_etag(data: bytes, part_size: int) -> str:
    digests = [
        hashlib.md5(data[i : i + part_size]).digest() for i in range(0, len(data), part_size)
    ]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def part_puts(emulator, key):
    """Return {part number: successful PUTs} for one upload key."""
    return {int(n): c for n, c in emulator.snapshot()["part_puts"].get(key, {}).items()}


def test_three_part_upload_is_stored_byte_identical(emulator, client, tmp_path):
    data = os.urandom(12 * MIB + 4321)
    source = tmp_path / "A001_C001.mov"
    source.write_bytes(data)
    dailies = folder_id(client, "Dailies")
    seen = []
    result = upload_file(
        client,
        source,
        project_id=dailies,
        uuid=str(uuid.uuid4()),
        batch_name="Day 1",
        part_size=5 * MIB,
        parallel_parts=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert len(result.etags) == 3
    assert seen[-1] == (len(data), len(data))

    objects = {o["key"]: o for o in emulator.snapshot()["objects"]}
    stored = objects[result.upload.key]
    assert stored["size"] == len(data)
    assert stored["etag"].strip('"') == multipart_etag(data, 5 * MIB)

    client.complete_upload(dailies, [result.upload.key], batch_name="Day 1")
    wait_for(lambda: client.get_assets(dailies))
    downloaded = download_asset(client, result.asset_id, "ORIGINAL", tmp_path / "back")
    assert downloaded.read_bytes() == data


def test_each_part_is_put_once(emulator, client, tmp_path):
    source = tmp_path / "b.mov"
    source.write_bytes(os.urandom(11 * MIB))
    result = upload_file(client, source, project_id=folder_id(client, "Dailies"), part_size=5 * MIB)
    assert part_puts(emulator, result.upload.key) == {1: 1, 2: 1, 3: 1}


def test_a_part_whose_data_does_not_match_its_md5_is_refused(client, tmp_path):
    upload = client.upload_init(folder_id(client, "Dailies"), "bad.mov")
    claimed = md5_base64(hashlib.md5(b"what we said").digest())
    url = client.upload_part_url(upload, 1, claimed)
    with pytest.raises(DigestMismatchError) as caught:
        client.transport.put(url, b"what we sent", 12, {"Content-MD5": claimed})
    assert caught.value.retryable


def test_a_content_md5_other_than_the_presigned_one_is_refused(client, tmp_path):
    upload = client.upload_init(folder_id(client, "Dailies"), "bad2.mov")
    body = b"some bytes"
    url = client.upload_part_url(upload, 1, md5_base64(hashlib.md5(b"other").digest()))
    real = md5_base64(hashlib.md5(body).digest())
    with pytest.raises(FlowCaptureError) as caught:
        client.transport.put(url, body, len(body), {"Content-MD5": real})
    assert caught.value.status in (400, 403)


def test_etags_out_of_part_order_are_refused(client, tmp_path):
    source = tmp_path / "c.mov"
    source.write_bytes(os.urandom(10 * MIB + 1))
    dailies = folder_id(client, "Dailies")
    upload = client.upload_init(dailies, "c.mov")
    parts = plan_parts(source.stat().st_size, 5 * MIB)
    etags = upload_parts(client, upload, source, parts)
    ordered = [etags[p.number] for p in parts]
    with pytest.raises(BadRequestError):
        client.upload_complete(
            upload, list(reversed(ordered)), filename="c.mov", project_id=dailies
        )
    assert client.upload_complete(upload, ordered, filename="c.mov", project_id=dailies) > 0
    with pytest.raises(UploadNotFoundError):  # as on S3: a completed upload no longer exists
        client.upload_complete(upload, ordered, filename="c.mov", project_id=dailies)


def test_a_short_part_before_the_last_is_refused(client, tmp_path):
    dailies = folder_id(client, "Dailies")
    upload = client.upload_init(dailies, "small.mov")
    etags = []
    for number, body in enumerate([b"a" * 1000, b"b" * 1000], start=1):
        md5 = md5_base64(hashlib.md5(body).digest())
        url = client.upload_part_url(upload, number, md5)
        etags.append(
            client.transport.put(url, body, len(body), {"Content-MD5": md5}).headers["ETag"]
        )
    with pytest.raises(BadRequestError) as caught:
        client.upload_complete(upload, etags, filename="small.mov", project_id=dailies)
    assert caught.value.code == "EntityTooSmall"


def test_an_aborted_upload_is_gone(client):
    upload = client.upload_init(folder_id(client, "Dailies"), "gone.mov")
    client.upload_abort(upload)
    with pytest.raises(UploadNotFoundError):
        client.upload_part_url(upload, 1, md5_base64(hashlib.md5(b"").digest()))


def test_resume_sends_only_the_parts_without_an_etag(emulator, client, tmp_path):
    data = os.urandom(15 * MIB)
    source = tmp_path / "resume.mov"
    source.write_bytes(data)
    dailies = folder_id(client, "Dailies")
    upload = client.upload_init(dailies, "resume.mov")
    parts = plan_parts(len(data), 5 * MIB)
    first = upload_parts(client, upload, source, parts[:1])
    committed = []
    etags = upload_parts(client, upload, source, parts, done=first, on_part_done=committed.append)
    assert sorted(r.number for r in committed) == [2, 3]
    client.upload_complete(
        upload, [etags[p.number] for p in parts], filename="resume.mov", project_id=dailies
    )
    assert part_puts(emulator, upload.key) == {1: 1, 2: 1, 3: 1}


def test_an_expired_presigned_url_is_refused_and_the_helper_asks_again(emulator, client, tmp_path):
    emulator.set_faults({"url_lifetime_s": 1})
    upload = client.upload_init(folder_id(client, "Dailies"), "late.mov")
    body = b"late bytes"
    md5 = md5_base64(hashlib.md5(body).digest())
    stale = client.upload_part_url(upload, 1, md5)
    time.sleep(1.2)
    with pytest.raises(PresignedUrlExpiredError):
        client.transport.put(stale, body, len(body), {"Content-MD5": md5})

    # The helper is handed the stale URL first and must ask for a fresh one.
    handed = [stale]
    real = client.upload_part_url

    def stale_first(upload_, number, content_md5, stop=None, calls=None):
        if handed:
            return handed.pop()
        return real(upload_, number, content_md5, stop=stop, calls=calls)

    client.upload_part_url = stale_first
    source = tmp_path / "late.mov"
    source.write_bytes(body)
    etags = upload_parts(client, upload, source, plan_parts(len(body), 5 * MIB))
    assert etags[1].strip('"') == hashlib.md5(body).hexdigest()
