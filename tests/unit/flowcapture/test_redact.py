import logging

from watchd.flowcapture.redact import (
    RedactingFilter,
    redact,
    redact_url,
    register_secret,
)

SIGNED = (
    "http://127.0.0.1:8701/bucket/uploads/a.mov?partNumber=1&uploadId=abc"
    "&X-Amz-Expires=300&X-Amz-Signature=deadbeefcafe"
)


def test_query_strings_are_removed_from_urls():
    assert redact_url(SIGNED) == "http://127.0.0.1:8701/bucket/uploads/a.mov?REDACTED"
    assert redact_url("http://host/path") == "http://host/path"


def test_redact_finds_signed_urls_inside_free_text():
    text = f"Max retries exceeded with url: {SIGNED} (Caused by reset)"
    cleaned = redact(text)
    assert "deadbeefcafe" not in cleaned
    assert "uploadId" not in cleaned
    assert "/bucket/uploads/a.mov?REDACTED" in cleaned


def test_relative_request_lines_lose_their_query_too():
    line = '"PUT /bucket/key?partNumber=1&X-Amz-Signature=0123abcd HTTP/1.1" 200 0'
    assert "0123abcd" not in redact(line)


def test_tokens_and_registered_secrets_are_removed():
    token = "A1" * 32
    register_secret("super-secret-key-123")
    text = f"token {token} key super-secret-key-123"
    cleaned = redact(text)
    assert token not in cleaned
    assert "super-secret-key-123" not in cleaned


def test_log_filter_rewrites_records_with_arguments():
    record = logging.LogRecord(
        "urllib3", logging.DEBUG, __file__, 1, "%s %s", ("GET", SIGNED), None
    )
    assert RedactingFilter().filter(record)
    assert "deadbeefcafe" not in record.getMessage()
