from watchd.ingest.metadata import metadata_for


def test_named_groups_become_metadata():
    meta = metadata_for("Day 01/012_003.mov", ["dailies"], r"(?P<scene>\d+)_(?P<take>\d+)")
    assert meta.tags == ["dailies"]
    assert meta.values == {"scene": "012", "take": "003"}


def test_no_match_adds_only_tags():
    meta = metadata_for("notes.mov", ["x"], r"(?P<scene>\d+)_(?P<take>\d+)")
    assert meta.values == {}
    assert not meta.is_empty()
