"""Injected faults: status rules, 429, resets, latency, faults after the request took
effect (a lost reply), the admin endpoint."""

from __future__ import annotations

import hashlib
import http.client
import os
import time
from urllib.parse import urlsplit

import pytest
import requests


def test_a_status_rule_with_a_count_fails_exactly_that_many_requests(api, emu, token):
    emu.set_faults({"rules": [{"endpoint": "/get/groups", "status": 503, "count": 2}]})
    statuses = [api.post("/get/groups", token).status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    state = emu.snapshot()
    assert state["requests"]["/get/groups"] == 4
    assert state["faults"]["rules"][0]["count"] == 0


def test_429_carries_retry_after(api, emu, token):
    emu.set_faults(
        {"rules": [{"endpoint": "/upload/*", "status": 429, "retry_after": 3, "count": 1}]}
    )
    resp = api.post("/upload/asset/init", token, project_id=api.DAILIES, filename="a.mov")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "3"
    assert resp.json()["error"]["code"] == "TooManyRequests"
    api.init(token)


def test_a_reset_mid_put_is_a_connection_error_and_keeps_no_part(api, emu, token):
    data = os.urandom(2 * api.MiB)
    init = api.init(token)
    url = api.part_url(token, init, 1, data)
    emu.set_faults({"rules": [{"endpoint": "s3:PUT", "reset": True, "count": 1}]})
    with pytest.raises(requests.ConnectionError):
        api.put(url, data)
    state = emu.snapshot()
    assert state["uploads"][0]["parts"] == []
    assert init["key"] not in state["part_puts"]
    api.put(url, data).raise_for_status()  # the same URL works again
    assert emu.snapshot()["part_puts"][init["key"]] == {"1": 1}


def test_a_reset_mid_get_breaks_the_download(api, emu, token):
    done = api.upload(token, os.urandom(3 * api.MiB))
    emu.set_faults({"rules": [{"endpoint": "s3:GET", "reset": True, "count": 1}]})
    with pytest.raises(requests.RequestException):
        api.s3_get("flowcapture-ingest", done["key"]).raise_for_status()
    assert len(api.s3_get("flowcapture-ingest", done["key"]).content) == 3 * api.MiB


def test_latency_applies_globally_and_per_rule(api, emu, token):
    emu.set_faults({"latency_ms": 150})
    started = time.monotonic()
    api.call("/get/groups", token)
    assert time.monotonic() - started >= 0.15
    emu.set_faults({"latency_ms": 0, "rules": [{"endpoint": "/get/projects", "latency_ms": 200}]})
    started = time.monotonic()
    api.call("/get/groups", token)
    assert time.monotonic() - started < 0.15
    started = time.monotonic()
    api.call("/get/projects", token)
    assert time.monotonic() - started >= 0.2


def test_rates_are_reproducible_with_a_seed(api, emu, token):
    def run():
        emu.set_faults(
            {"seed": 7, "rules": [{"endpoint": "/get/groups", "status": 500, "rate": 0.5}]}
        )
        return [api.post("/get/groups", token).status_code for _ in range(12)]

    first = run()
    assert {500, 200} == set(first)
    assert run() == first


def test_the_admin_endpoint_merges_resets_and_validates(api, emu):
    url = api.base + "/_emulator/faults"
    assert api.session.get(url).json()["processing_delay_s"] == 0.3  # from the fixture
    merged = api.session.post(
        url, json={"latency_ms": 5, "rules": [{"endpoint": "*", "status": 500}]}
    ).json()
    assert merged["latency_ms"] == 5
    assert merged["rules"][0]["status"] == 500
    bad = api.session.post(url, json={"rules": [{"endpoint": "*", "status": 200}]})
    assert bad.status_code == 400
    assert "rules[0].status" in bad.json()["error"]["message"]
    assert api.session.post(url, json={"nonsense": 1}).status_code == 400
    cleared = api.session.delete(url).json()
    assert cleared["rules"] == []
    assert cleared["latency_ms"] == 0
    assert cleared["processing_delay_s"] == 0.3  # back to the start configuration
    assert api.session.post(url, json={"reset": True, "latency_ms": 1}).json()["latency_ms"] == 1


def test_the_bandwidth_cap_slows_s3_bodies(api, emu, token):
    data = os.urandom(400_000)
    init = api.init(token)
    url = api.part_url(token, init, 1, data)
    emu.set_faults({"bandwidth_bytes_per_s": 1_000_000})
    started = time.monotonic()
    api.put(url, data).raise_for_status()
    assert time.monotonic() - started >= 0.3


def test_an_after_reset_on_complete_makes_the_asset_though_the_client_sees_a_reset(api, emu, token):
    init = api.init(token)
    etag = api.put_part(token, init, 1, b"lost reply")
    emu.set_faults(
        {"rules": [{"endpoint": "/upload/asset/complete", "reset": True, "after": True}]}
    )
    with pytest.raises(requests.ConnectionError):
        api.complete(token, init, [etag])
    state = emu.snapshot()
    [asset] = state["assets"]
    assert state["uploads"][0]["state"] == "completed"
    assert state["uploads"][0]["asset_id"] == asset["id"]
    emu.set_faults({"rules": []})
    retried = api.complete(token, init, [etag])
    assert retried.status_code == 404
    assert retried.json()["error"]["code"] == "NoSuchUpload"
    assert len(emu.snapshot()["assets"]) == 1


def test_an_after_503_on_init_answers_the_error_but_the_upload_exists(api, emu, token):
    emu.set_faults(
        {"rules": [{"endpoint": "/upload/asset/init", "status": 503, "after": True, "count": 1}]}
    )
    resp = api.post("/upload/asset/init", token, project_id=api.DAILIES, filename="a.mov")
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "ServiceUnavailable"
    [upload] = emu.snapshot()["uploads"]
    assert (upload["filename"], upload["state"]) == ("a.mov", "open")
    api.init(token, filename="a.mov")  # the retry makes a second upload; the first is orphaned
    uploads = emu.snapshot()["uploads"]
    assert [u["state"] for u in uploads] == ["open", "open"]
    assert emu.snapshot()["faults"]["rules"][0]["count"] == 0


def test_an_after_reset_on_a_part_put_keeps_the_part(api, emu, token):
    data = os.urandom(2 * api.MiB)
    init = api.init(token)
    url = api.part_url(token, init, 1, data)
    emu.set_faults({"rules": [{"endpoint": "s3:PUT", "reset": True, "after": True, "count": 1}]})
    with pytest.raises(requests.ConnectionError):
        api.put(url, data)
    state = emu.snapshot()
    assert state["part_puts"][init["key"]] == {"1": 1}
    [part] = state["uploads"][0]["parts"]
    etag = f'"{hashlib.md5(data).hexdigest()}"'
    assert part["etag"] == etag
    assert api.complete(token, init, [etag]).status_code == 200  # the client's own ETag works
    assert api.s3_get("flowcapture-ingest", init["key"]).content == data


def test_an_after_rule_is_spent_only_by_a_request_that_succeeds(api, emu, token):
    init = api.init(token)
    url = api.part_url(token, init, 1, b"expected")
    emu.set_faults({"rules": [{"endpoint": "s3:PUT", "status": 503, "after": True, "count": 1}]})
    refused = api.put(url, b"other!!!", md5=api.md5_b64(b"expected"))
    assert refused.status_code == 400  # the real error; the rule is not spent
    assert "<Code>BadDigest</Code>" in refused.text
    assert emu.snapshot()["faults"]["rules"][0]["count"] == 1
    replaced = api.put(url, b"expected")
    assert replaced.status_code == 503
    assert "<Code>SlowDown</Code>" in replaced.text  # S3's XML error
    state = emu.snapshot()
    assert len(state["uploads"][0]["parts"]) == 1  # stored all the same
    assert state["faults"]["rules"][0]["count"] == 0
    assert api.put(url, b"expected").status_code == 200


def test_after_faults_apply_to_any_s3_operation(api, emu):
    url = f"{emu.s3_url}/scratch/a.bin"
    api.session.put(url, data=b"abc", headers=api.S3_AUTH).raise_for_status()
    emu.set_faults(
        {
            "rules": [
                {"endpoint": "s3:GET", "status": 500, "after": True, "count": 1},
                {"endpoint": "s3:DELETE", "reset": True, "after": True, "count": 1},
            ]
        }
    )
    failed = api.s3_get("scratch", "a.bin")
    assert failed.status_code == 500
    assert "<Code>InternalError</Code>" in failed.text
    assert api.s3_get("scratch", "a.bin").content == b"abc"
    with pytest.raises(requests.ConnectionError):
        api.session.delete(url, headers=api.S3_AUTH)
    assert api.s3_get("scratch", "a.bin").status_code == 404  # deleted all the same


def test_the_admin_endpoint_validates_after_rules_and_init_same_uuid(api):
    url = api.base + "/_emulator/faults"
    assert api.session.get(url).json()["init_same_uuid"] == "new"
    no_failure = api.session.post(
        url, json={"rules": [{"endpoint": "*", "after": True, "latency_ms": 5}]}
    )
    assert no_failure.status_code == 400
    assert "rules[0].after" in no_failure.json()["error"]["message"]
    bad_mode = api.session.post(url, json={"init_same_uuid": "sometimes"})
    assert bad_mode.status_code == 400
    assert "init_same_uuid" in bad_mode.json()["error"]["message"]
    merged = api.session.post(
        url,
        json={
            "init_same_uuid": "refuse",
            "rules": [{"endpoint": "s3:PUT", "reset": True, "after": True}],
        },
    ).json()
    assert merged["init_same_uuid"] == "refuse"
    assert merged["rules"][0]["after"] is True


def test_a_new_connection_pays_one_latency_before_its_first_request(emu):
    emu.set_faults({"latency_ms": 150})
    host, port = urlsplit(emu.api_url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    timings = []
    for _ in range(2):
        started = time.monotonic()
        connection.request("POST", "/get/groups", body=b'{"data": {}}')
        connection.getresponse().read()
        timings.append(time.monotonic() - started)
    connection.close()
    assert timings[0] >= 0.3  # the handshake's round trip, then the request's
    assert 0.15 <= timings[1] < 0.3  # kept alive: the request's alone
