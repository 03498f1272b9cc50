"""Authentication, tokens and the request envelope."""

from __future__ import annotations

import re
import time


def test_authenticate_returns_a_64_char_upper_hex_token_and_the_user(api):
    result = api.call("/authenticate/api", email="demo@example.com", api_key="demo-api-key")
    assert re.fullmatch(r"[0-9A-F]{64}", result["token"])
    assert result["user"] == {
        "email": "demo@example.com",
        "first_name": "Demo",
        "last_name": "User",
    }


def test_a_wrong_api_key_or_unknown_user_is_refused_with_401(api):
    assert api.error("/authenticate/api", 401, email="demo@example.com", api_key="nope")["code"]
    api.error("/authenticate/api", 401, email="ghost@example.com", api_key="demo-api-key")


def test_missing_parameters_are_a_400_naming_the_parameter(api):
    error = api.error("/authenticate/api", 400, email="demo@example.com")
    assert "api_key" in error["message"]


def test_calls_without_or_with_a_wrong_token_get_401(api):
    assert api.error("/get/groups", 401)["code"] == "MissingToken"
    assert api.error("/get/groups", 401, token="0" * 64)["code"] == "InvalidToken"


def test_the_token_is_accepted_in_the_body_and_params_at_top_level(api, token):
    resp = api.session.post(api.base + "/get/groups", json={"token": token})
    assert resp.status_code == 200
    resp = api.session.post(api.base + "/get/projects", json={"token": token, "group_id": 100})
    assert resp.status_code == 200
    assert {p["id"] for p in resp.json()} == {1000, 1001}


def test_get_is_accepted_as_well_as_post(api, token):
    resp = api.session.get(api.base + "/get/groups", headers={"X-Token": token})
    assert resp.status_code == 200
    assert resp.json() == [{"id": 100, "name": "Demo Production"}]


def test_tokens_expire_after_the_configured_lifetime(api, emu, token):
    emu.set_faults({"token_lifetime_s": 0.2})
    time.sleep(0.3)
    assert api.error("/get/groups", 401, token=token)["code"] == "TokenExpired"
    fresh = api.token()
    api.call("/get/groups", fresh)


def test_unknown_paths_are_404(api, token):
    assert api.error("/get/nothing", 404, token=token)["code"] == "UnknownEndpoint"


def test_a_body_that_is_not_json_is_a_400(api, token):
    resp = api.session.post(api.base + "/get/groups", data=b"{nope", headers={"X-Token": token})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "InvalidJSON"
