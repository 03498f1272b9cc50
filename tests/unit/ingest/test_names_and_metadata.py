from datetime import UTC, datetime

from watchd.ingest.batch_names import batch_name, subdir_of, template_problems
from watchd.ingest.metadata import metadata_for

OPENED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_subdir_is_the_first_component_below_the_drop_folder():
    assert subdir_of("Day 01/A001/clip.mov") == "Day 01"
    assert subdir_of("clip.mov") == ""


def test_template_placeholders_are_filled():
    name = batch_name(
        "{folder} {subdir} {date:%Y}", folder="dailies", relpath="R1/a.mov", opened=OPENED
    )
    assert name == "dailies R1 2026"


def test_an_empty_name_falls_back_to_the_folder():
    assert batch_name("{subdir}", folder="dailies", relpath="a.mov", opened=OPENED) == "dailies"


def test_unknown_placeholders_are_reported():
    assert template_problems("{folder}") == []
    (problem,) = template_problems("{shoot_day}")
    assert "shoot_day" in problem
    assert template_problems("{folder")  # unbalanced brace


def test_named_groups_become_metadata():
    meta = metadata_for("Day 01/012_003.mov", ["dailies"], r"(?P<scene>\d+)_(?P<take>\d+)")
    assert meta.tags == ["dailies"]
    assert meta.values == {"scene": "012", "take": "003"}


def test_no_match_adds_only_tags():
    meta = metadata_for("notes.mov", ["x"], r"(?P<scene>\d+)_(?P<take>\d+)")
    assert meta.values == {}
    assert not meta.is_empty()
