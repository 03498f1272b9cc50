import os

from watchd.base.names import display_name, is_plain, printable, shown

BAD = os.fsdecode(b"bad\xff.mov")  # as os.listdir gives a name that is not UTF-8


def test_plain_names_are_left_as_they_are():
    assert printable("A001_012_003.mov") == "A001_012_003.mov"
    assert printable("Café/Ünïcode.mov") == "Café/Ünïcode.mov"
    assert shown("A001.mov") == "A001.mov"
    assert is_plain("Café.mov")


def test_a_name_that_is_not_utf8_is_escaped_for_people_and_replaced_for_flow_capture():
    assert printable(BAD) == "bad\\xff.mov"
    assert shown(BAD) == '"bad\\xff.mov"'
    assert display_name(BAD) == "bad\ufffd.mov"
    assert not is_plain(BAD)
    assert os.fsencode(BAD) == b"bad\xff.mov", "the name itself stays usable"


def test_control_characters_cannot_forge_a_log_line_or_garble_a_terminal():
    forged = "x.mov\n2026-11-28 INFO watchd.ingest.jobs: done: file=/etc/passwd"
    assert "\n" not in printable(forged)
    assert printable("a\tb\x1b[31mred") == "a\\tb\\u001b[31mred"
    assert printable("evil\u202eevom.mp4") == "evil\\u202eevom.mp4"
    assert display_name("a\x1b[31m.mov") == "a[31m.mov"


def test_names_with_spaces_or_quotes_are_quoted_in_key_value_fields():
    assert shown("Day 01/A001.mov") == '"Day 01/A001.mov"'
    assert shown('say "cut".mov') == '"say \\"cut\\".mov"'
    assert shown("") == '""'
