"""How `watchd tag` reads KEY=VALUE, KEY=, --json-value, --tags and --clear-tags."""

from __future__ import annotations

import pytest

from watchd.cli.api_access import CommandError
from watchd.cli.tag_cmd import parse_metadata, parse_tags


def test_values_keep_the_text_typed_and_an_empty_value_clears():
    assert parse_metadata(["take=003", "scene=12a", "note=a=b", "camera="], []) == {
        "take": "003",
        "scene": "12a",
        "note": "a=b",
        "camera": None,
    }


def test_json_values_send_numbers_booleans_and_null():
    got = parse_metadata([], ["take=3", "ok=true", "gone=null", 'label="003"', "xs=[1,2]"])
    assert got == {"take": 3, "ok": True, "gone": None, "label": "003", "xs": [1, 2]}


@pytest.mark.parametrize(
    ("pairs", "json_values", "message"),
    [
        (["id=7"], [], "'id' cannot be a metadata key"),
        (["tags=a,b"], [], "use --tags or --clear-tags"),
        ([], ["tags=[]"], "'tags' cannot be a metadata key"),
        (["novalue"], [], "is not KEY=VALUE"),
        (["=x"], [], "is not KEY=VALUE"),
        ([], ["take=03x"], "is not JSON"),
        (["take=1"], ["take=1"], "given twice"),
    ],
)
def test_bad_pairs_are_refused_clearly(pairs, json_values, message):
    with pytest.raises(CommandError, match=message):
        parse_metadata(pairs, json_values)


def test_tags_replace_clear_or_stay():
    assert parse_tags("dailies, day1,", False) == ["dailies", "day1"]
    assert parse_tags("", False) == []
    assert parse_tags(None, True) == []
    assert parse_tags(None, False) is None
    with pytest.raises(CommandError, match="contradict"):
        parse_tags("a", True)
