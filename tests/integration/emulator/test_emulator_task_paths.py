"""The emulator serves the task endpoint under one spelling, chosen by ``tasks_path``."""

from __future__ import annotations

import pytest

from watchd.cli.emulator_cmd import build
from watchd.cli.main import build_parser
from watchd.emulator import Emulator, FaultConfigError


@pytest.mark.parametrize(("served", "other"), [("messages", "message"), ("message", "messages")])
def test_only_the_chosen_spelling_answers(api, emu, token, served, other):
    emu.set_faults({"tasks_path": served})
    asset = api.uploaded_asset(token)
    started = api.call(
        "/download/assets/direct", token, assets=[asset["id"]], file_categories=["1080p"]
    )
    task_id = started["successful_processes"][0]["task_id"]
    [message] = api.call(f"/get/tasks/{served}", token, task_ids=[task_id])
    assert message["task_id"] == task_id
    error = api.error(f"/get/tasks/{other}", 404, token, task_ids=[task_id])
    assert error["code"] == "UnknownEndpoint"


def test_tasks_path_is_validated(emu):
    with pytest.raises(FaultConfigError, match="tasks_path"):
        emu.set_faults({"tasks_path": "msgs"})


def test_the_emulator_command_takes_the_spelling_as_a_flag(tmp_path):
    argv = ["emulator", "--data", str(tmp_path), "--tasks-path", "message"]
    emulator = build(build_parser(argv).parse_args(argv))
    assert isinstance(emulator, Emulator)
    assert emulator.faults.get("tasks_path") == "message"
    argv = ["emulator", "--data", str(tmp_path)]
    default = build(build_parser(argv).parse_args(argv))
    assert isinstance(default, Emulator)
    assert default.faults.get("tasks_path") == "messages"
