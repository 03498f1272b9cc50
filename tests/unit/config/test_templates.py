import datetime as dt

import pytest

from watchd.config.templates import BatchNameValues, check_batch_template, render_batch_name

VALUES = BatchNameValues("dailies", "A001", dt.datetime(2024, 3, 9, 18, 30), "cart1")


def test_placeholders_are_filled():
    assert render_batch_name("{folder} {subdir} {date} {host}", VALUES) == (
        "dailies A001 2024-03-09 cart1"
    )
    assert render_batch_name("{date:%d.%m.%Y %H%M}", VALUES) == "09.03.2024 1830"


def test_a_blank_result_falls_back_to_the_folder_name():
    values = BatchNameValues("dailies", "", VALUES.date, "cart1")
    assert render_batch_name("{subdir}", values) == "dailies"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{foo}", r"unknown placeholder \{foo\}"),
        ("{}", r"unknown placeholder \{\}"),
        ("{folder.name}", "unknown placeholder"),
        ("{folder!r}", "conversions are not supported"),
        ("{host:>10}", r"only \{date\} takes a format"),
        ("{folder", "not a valid template"),
        ("  ", "empty"),
    ],
)
def test_bad_templates_are_refused(template, message):
    with pytest.raises(ValueError, match=message):
        check_batch_template(template)
