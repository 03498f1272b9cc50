"""The emulator can answer the document's result booleans false, as a fault rule."""

from __future__ import annotations

import pytest

from watchd.emulator import FaultConfigError


def test_an_answer_false_rule_says_no_and_changes_nothing(api, emu, token):
    asset = api.uploaded_asset(token)
    emu.set_faults({"rules": [{"endpoint": "/update/asset", "answer_false": True, "count": 1}]})
    assert api.call("/update/asset", token, id=asset["id"], tags=["x"]) == {"updated": False}
    [listed] = api.call("/get/assets", token, project_id=api.DAILIES)
    assert listed["tags"] == []
    assert api.call("/update/asset", token, id=asset["id"], tags=["x"]) == {"updated": True}


def test_an_answer_false_rule_still_checks_the_token(api, emu):
    emu.set_faults({"rules": [{"endpoint": "/delete/comment", "answer_false": True}]})
    assert api.post("/delete/comment", None, id=1).status_code == 401


def test_complete_upload_can_answer_ok_false(api, emu, token):
    done = api.upload(token, b"abc")
    emu.set_faults({"rules": [{"endpoint": "/complete/upload", "answer_false": True}]})
    answer = api.call("/complete/upload", token, project_id=api.DAILIES, keys=[done["key"]])
    assert answer == {"ok": False}
    assert emu.snapshot()["uploads"][0]["state"] != "ingesting"


@pytest.mark.parametrize(
    "rule",
    [
        {"endpoint": "/get/assets", "answer_false": True},
        {"endpoint": "/update/asset", "answer_false": True, "status": 500},
        {"endpoint": "/update/asset", "answer_false": "yes"},
    ],
)
def test_answer_false_rules_are_validated(emu, rule):
    with pytest.raises(FaultConfigError, match="answer_false"):
        emu.set_faults({"rules": [rule]})
