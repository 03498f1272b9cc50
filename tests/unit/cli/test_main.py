import argparse

import pytest

from watchd.cli import main, sample_cmd


def test_a_broken_pipe_that_is_not_the_output_is_not_hidden(monkeypatch):
    def fails(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")  # e.g. a socket, while stdout is fine

    monkeypatch.setattr(sample_cmd, "run", fails)
    with pytest.raises(BrokenPipeError):
        main.main(["sample-config"])
