"""The status page's document and HTML, from a real SQLite database."""

from __future__ import annotations

import requests

from watchd.daemon.listener import LocalListener
from watchd.daemon.status_page import PageSources, page_document, render_body, routes

REPORT = {
    "version": "9.9",
    "summary": "1 folder, 1 uploading",
    "problems": {"authentication": "Flow Capture refused the API key"},
    "config": "/etc/watchd/watchd.yaml",
    "folders": [
        {
            "name": "dailies",
            "path": "/srv/<drop>",
            "health": "missing",
            "message": "not mounted",
            "settling": 2,
            "project_id": 1001,
            "token": "s3cr3t-token",  # a key the page does not name is never copied
            "problems": [{"file": "x.mov", "reason": "unreadable"}],
        }
    ],
    "bandwidth": {"cap": "20MB/s", "source": "schedule", "until": "Mon 19:00",
                  "timezone": "Europe/London", "folders": {}, "entry": "Mon-Fri 07:00 20MB/s"},
}  # fmt: skip
TRANSFER = {
    "job": 3,
    "folder": "dailies",
    "file": "<b>A001.mov",
    "bytes_done": 25,
    "bytes_total": 100,
    "rate_bytes_per_second": 5_000_000,
    "url": "https://s3.example/bucket?X-Amz-Signature=abc",
}


def sources(db) -> PageSources:
    return PageSources(lambda: REPORT, lambda: [TRANSFER], db)


def test_the_document_copies_only_what_it_names(db):
    doc = page_document(sources(db))
    assert doc["folders"][0]["health"] == "missing"
    assert doc["transfers"][0]["percent"] == 25.0
    assert doc["transfers"][0]["eta_seconds"] == 75 / 5_000_000
    assert doc["jobs"]["queued"] == 0 and doc["database"] == "ok"
    assert doc["nodes"] == [], "SQLite: no nodes"
    text = repr(doc)
    assert "s3cr3t-token" not in text and "X-Amz-Signature" not in text
    assert "/etc/watchd" not in text


def test_the_body_escapes_names_and_shows_health_cap_and_problems(db):
    body = render_body(page_document(sources(db)))
    assert "&lt;b&gt;A001.mov" in body and "<b>A001" not in body
    assert "/srv/&lt;drop&gt;" in body
    assert '<progress max="100" value="25.0">' in body
    assert "<b>20MB/s</b> (schedule until Mon 19:00, Europe/London)" in body
    assert "authentication: Flow Capture refused the API key" in body
    assert "cannot take x.mov: unreadable" in body


def test_the_listener_serves_the_page_its_json_and_metrics_only(db):
    served = routes(lambda: ("text/plain", b"watchd_up 1\n"), sources(db))
    listener = LocalListener("127.0.0.1:0", served)
    listener.start()
    base = f"http://127.0.0.1:{listener.port}"
    try:
        page = requests.get(base + "/", timeout=5)
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert 'fetch("/status/body"' in page.text and "&lt;b&gt;A001.mov" in page.text
        assert "<script src" not in page.text and "<link" not in page.text
        assert requests.get(base + "/status.json", timeout=5).json()["summary"].startswith("1 ")
        assert requests.get(base + "/metrics", timeout=5).text == "watchd_up 1\n"
        assert requests.get(base + "/status/body", timeout=5).text.startswith('<p id="summary">')
        assert requests.get(base + "/secrets", timeout=5).status_code == 404
    finally:
        listener.stop()
