"""Multipart upload through the API and presigned URLs."""

from __future__ import annotations

import hashlib
import os
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest


@pytest.fixture
def two_parts(api):
    return [os.urandom(5 * api.MiB), os.urandom(1536 * 1024)]


def test_a_full_upload_stores_identical_bytes_with_the_multipart_etag(api, token, two_parts):
    done = api.upload(token, b"".join(two_parts))
    assert isinstance(done["asset_id"], int)
    stored = api.s3_get("flowcapture-ingest", done["key"])
    assert stored.status_code == 200
    assert stored.content == b"".join(two_parts)
    assert stored.headers["ETag"] == api.multipart_etag(two_parts)
    assert done["etags"][0] == f'"{hashlib.md5(two_parts[0]).hexdigest()}"'


def test_the_presigned_url_points_at_the_s3_port_with_signature_and_expiry(api, emu, token):
    init = api.init(token)
    url = api.part_url(token, init, 1, b"abc")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == emu.s3_url
    query = dict(parse_qsl(parts.query))
    assert query["partNumber"] == "1"
    assert query["uploadId"] == init["upload_id"]
    assert {"X-Amz-Expires", "X-Amz-Date", "X-Amz-Signature"} <= set(query)


def test_a_body_that_does_not_match_content_md5_is_bad_digest(api, token):
    init = api.init(token)
    url = api.part_url(token, init, 1, b"expected bytes")
    resp = api.put(url, b"other bytes!!!", md5=api.md5_b64(b"expected bytes"))
    assert resp.status_code == 400
    assert "<Code>BadDigest</Code>" in resp.text
    assert resp.text.startswith("<?xml")
    assert resp.headers["Content-Type"] == "application/xml"
    assert api.emu.snapshot()["uploads"][0]["parts"] == []


def test_a_content_md5_header_other_than_the_signed_one_is_signature_does_not_match(api, token):
    init = api.init(token)
    url = api.part_url(token, init, 1, b"expected bytes")
    resp = api.put(url, b"other bytes")  # body and header agree, but not with the URL
    assert resp.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in resp.text
    assert resp.text.startswith("<?xml")
    missing = api.session.put(url, data=b"expected bytes")
    assert missing.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in missing.text
    assert api.emu.snapshot()["uploads"][0]["parts"] == []


def test_a_tampered_url_is_signature_does_not_match(api, token):
    init = api.init(token)
    url = api.part_url(token, init, 1, b"data")
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query["partNumber"] = "2"
    resp = api.put(urlunsplit(parts._replace(query=urlencode(query))), b"data")
    assert resp.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in resp.text


def test_an_expired_url_is_access_denied(api, emu, token):
    emu.set_faults({"url_lifetime_s": 1})
    init = api.init(token)
    url = api.part_url(token, init, 1, b"data")
    time.sleep(2.1)
    resp = api.put(url, b"data")
    assert resp.status_code == 403
    assert "<Code>AccessDenied</Code>" in resp.text
    assert "Request has expired" in resp.text


def test_etags_out_of_order_are_invalid_part_order(api, token, two_parts):
    init = api.init(token)
    etags = [api.put_part(token, init, n, d) for n, d in enumerate(two_parts, 1)]
    resp = api.complete(token, init, list(reversed(etags)))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "InvalidPartOrder"
    resp = api.complete(token, init, [etags[0], '"' + "0" * 32 + '"'])
    assert resp.json()["error"]["code"] == "InvalidPart"


def test_a_small_part_that_is_not_last_is_entity_too_small(api, token):
    init = api.init(token)
    etags = [api.put_part(token, init, n, os.urandom(1024)) for n in (1, 2)]
    resp = api.complete(token, init, etags)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "EntityTooSmall"


def test_parts_left_out_of_etags_are_refused(api, token, two_parts):
    init = api.init(token)
    etags = [api.put_part(token, init, n, d) for n, d in enumerate(two_parts, 1)]
    resp = api.complete(token, init, etags[:1])
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "InvalidPart"


def test_complete_checks_filename_and_project(api, token):
    init = api.init(token)
    etag = api.put_part(token, init, 1, b"abc")
    assert (
        "filename" in api.complete(token, init, [etag], filename="x.mov").json()["error"]["message"]
    )
    resp = api.complete(token, init, [etag], project_id=api.DAY_01)
    assert "project_id" in resp.json()["error"]["message"]


def test_a_completed_upload_no_longer_exists_as_on_s3(api, token):
    init = api.init(token)
    etag = api.put_part(token, init, 1, b"abc")
    assert api.complete(token, init, [etag]).status_code == 200
    again = api.complete(token, init, [etag])
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "NoSuchUpload"
    ids = {"upload_id": init["upload_id"], "key": init["key"]}
    part = api.error(
        "/upload/asset/part", 404, token, part_number=2, content_md5=api.md5_b64(b"x"), **ids
    )
    assert part["code"] == "NoSuchUpload"
    assert api.error("/upload/asset/abort", 404, token, **ids)["code"] == "NoSuchUpload"
    assert len(api.emu.snapshot()["assets"]) == 1
    api.ingest(token, api.DAILIES, [init["key"]])  # /complete/upload still takes its key


def test_abort_discards_the_upload(api, token):
    init = api.init(token)
    url = api.part_url(token, init, 1, b"abc")
    assert (
        api.call("/upload/asset/abort", token, upload_id=init["upload_id"], key=init["key"]) == {}
    )
    resp = api.put(url, b"abc")
    assert resp.status_code == 404
    assert "<Code>NoSuchUpload</Code>" in resp.text
    error = api.error(
        "/upload/asset/part", 404, token, upload_id=init["upload_id"], key=init["key"],
        part_number=1, content_md5=api.md5_b64(b"abc"),
    )  # fmt: skip
    assert error["code"] == "NoSuchUpload"


def test_a_re_put_of_a_part_replaces_it(api, token):
    init = api.init(token)
    api.put_part(token, init, 1, b"first")
    etag = api.put_part(token, init, 1, b"second")
    assert api.complete(token, init, [etag]).status_code == 200
    assert api.s3_get("flowcapture-ingest", init["key"]).content == b"second"
    assert api.emu.snapshot()["part_puts"][init["key"]] == {"1": 2}


def test_part_parameters_are_validated(api, token):
    init = api.init(token)
    ids = {"upload_id": init["upload_id"], "key": init["key"]}
    bad_number = api.error(
        "/upload/asset/part", 400, token, part_number=10001, content_md5=api.md5_b64(b""), **ids
    )
    assert "part_number" in bad_number["message"]
    bad_md5 = api.error("/upload/asset/part", 400, token, part_number=1, content_md5="abc", **ids)
    assert "content_md5" in bad_md5["message"]


def test_another_users_upload_cannot_be_used(api, token):
    init = api.init(token)
    viewer = api.token("viewer@example.com", "viewer-api-key")
    api.error(
        "/upload/asset/part", 403, viewer, upload_id=init["upload_id"], key=init["key"],
        part_number=1, content_md5=api.md5_b64(b"x"),
    )  # fmt: skip
