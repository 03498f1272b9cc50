"""The request body: None is left out, NULL goes as JSON null; result flags."""

from __future__ import annotations

import json

import pytest

from watchd.flowcapture import wire


def test_none_is_left_out_and_null_is_sent_as_json_null():
    body = wire.request_body({"id": 7, "scene": wire.NULL, "take": "003", "batch": None})
    assert json.dumps(body) == '{"data": {"id": 7, "scene": null, "take": "003"}}'


@pytest.mark.parametrize(
    ("payload", "confirmed"),
    [
        ({"updated": True}, True),
        (True, True),
        ({"updated": False}, False),
        ({"updated": None}, False),
        ({}, False),
        ({"updated": "true"}, False),
        ([], False),
    ],
)
def test_only_a_json_true_confirms(payload, confirmed):
    assert wire.result_flag(wire.UPDATE_ASSET, payload)[0] is confirmed
