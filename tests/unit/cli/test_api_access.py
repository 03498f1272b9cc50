import argparse

import pytest

from watchd.cli import api_access


def test_an_api_command_leaves_a_closed_output_to_main():
    @api_access.reports_failures
    def prints(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        prints(argparse.Namespace(command="browse"))


def test_other_file_errors_of_an_api_command_are_still_one_line(capsys):
    @api_access.reports_failures
    def reads(args: argparse.Namespace) -> int:
        raise FileNotFoundError(2, "No such file or directory", "/nope.mov")

    assert reads(argparse.Namespace(command="upload")) == 1
    assert capsys.readouterr().err == "watchd upload: No such file or directory: /nope.mov\n"
