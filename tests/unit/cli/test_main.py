import argparse
import subprocess
import sys
import threading

import pytest

from watchd.cli import main, sample_cmd


def test_a_broken_pipe_that_is_not_the_output_is_not_hidden(monkeypatch):
    def fails(args: argparse.Namespace) -> int:
        raise BrokenPipeError(32, "Broken pipe")  # e.g. a socket, while stdout is fine

    monkeypatch.setattr(sample_cmd, "run", fails)
    with pytest.raises(BrokenPipeError):
        main.main(["sample-config"])


class _Exited(Exception):
    pass


def _fake_exit(code: int) -> None:
    raise _Exited(code)


def test_the_program_exits_with_mains_code_without_the_teardown(monkeypatch):
    monkeypatch.setattr(main, "main", lambda: 3)
    monkeypatch.setattr("watchd.cli.main.os._exit", _fake_exit)
    with pytest.raises(_Exited) as exited:
        main.run()
    assert exited.value.args == (3,)


def test_the_program_waits_for_a_thread_still_running(monkeypatch):
    monkeypatch.setattr(main, "main", lambda: 4)
    monkeypatch.setattr("watchd.cli.main.os._exit", _fake_exit)
    release = threading.Event()
    worker = threading.Thread(target=release.wait)  # not a daemon thread
    worker.start()
    try:
        with pytest.raises(SystemExit) as exited:  # the usual exit, which joins it
            main.run()
        assert exited.value.code == 4
    finally:
        release.set()
        worker.join()


def test_a_real_run_keeps_its_exit_status_and_its_last_words():
    done = subprocess.run(
        [sys.executable, "-m", "watchd", "status", "--config", "/nonexistent/watchd.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "/nonexistent/watchd.yaml: cannot read" in done.stderr


def loaded_after(code: str, *modules: str) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``code``."""
    probe = f"import sys; {code}; print(' '.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_api_commands_log_in_before_loading_the_database_and_the_config_schema():
    # SQLAlchemy, pydantic and Alembic are a third of a second of imports: `watchd
    # upload` loads them on a thread while the login and folder lookup are on the wire,
    # and a command given --email never needs the schema at all.
    code = "from watchd.cli import main, api_access, upload_cmd, browse_cmd; "
    code += "main.build_parser(['upload'])"
    assert loaded_after(code, "sqlalchemy", "pydantic", "alembic") == []


def test_the_state_side_of_an_upload_given_email_loads_no_config_schema():
    # The state thread of `watchd upload --email` imports SQLAlchemy and the pipeline;
    # the config's schema (pydantic) and PostgreSQL's dialect are a tenth of a second more.
    code = "import watchd.cli.upload_jobs"
    assert loaded_after(code, "pydantic", "sqlalchemy.dialects.postgresql") == []
    assert loaded_after(code, "sqlalchemy") == ["sqlalchemy"], "(the probe works)"


@pytest.mark.parametrize(
    ("argv", "config", "json"),
    [
        (["db", "--config", "/a.yaml", "check"], "/a.yaml", None),
        (["db", "check", "--config", "/a.yaml"], "/a.yaml", None),
        (["db", "--config", "/a.yaml", "check", "--config", "/b.yaml"], "/b.yaml", None),
        (["db", "--config", "/a.yaml", "migrate-to", "postgresql://h/db"], "/a.yaml", None),
        (["comment", "--config", "/a.yaml", "--json", "add", "7", "hi"], "/a.yaml", True),
        (["comment", "delete", "7", "--config", "/a.yaml"], "/a.yaml", False),
        (["comment", "edit", "7", "--text", "x"], "/default.yaml", False),
    ],
)
def test_a_groups_options_may_come_before_or_after_its_action(monkeypatch, argv, config, json):
    monkeypatch.setenv("WATCHD_CONFIG", "/default.yaml")
    args = main.build_parser(argv).parse_args(argv)
    assert str(args.config) == config
    if json is not None:
        assert args.json is json


@pytest.mark.parametrize(
    ("argv", "usage", "unknown"),
    [
        (["jobs", "--sate", "failed"], "usage: watchd jobs ", "--sate failed"),
        (["db", "check", "--bogus"], "usage: watchd db check ", "--bogus"),
        (["--bogus"], "usage: watchd ", "--bogus"),
    ],
)
def test_an_unknown_option_shows_the_usage_of_the_command_it_was_given_to(
    argv, usage, unknown, capsys
):
    with pytest.raises(SystemExit) as exit_:
        main.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and f"error: unrecognized arguments: {unknown}\n" in err


@pytest.mark.parametrize("command", ["jobs", "batches"])
@pytest.mark.parametrize(("limit", "said"), [("0", "0 is fewer than 1"), ("-1", "-1 is fewer")])
def test_a_listing_refuses_a_limit_below_one(command, limit, said, capsys):
    with pytest.raises(SystemExit) as exit_:
        main.main([command, "--limit", limit])
    assert exit_.value.code == 2 and said in capsys.readouterr().err
