"""Project resolution and `check-config --online` against the emulator over HTTP."""

import argparse
import textwrap

import pytest

from tests.integration.conftest import DEMO_API_KEY, DEMO_EMAIL
from tests.pg import free_port
from watchd.cli import check_config_cmd
from watchd.ingest.projects import ProjectDirectory, ProjectResolutionError, resolve_project
from watchd.store.migrate import head_revision


def test_folder_paths_resolve_to_the_emulators_folders(client):
    dailies = resolve_project(client, "Demo Production/Dailies")
    day01 = resolve_project(client, "Demo Production/Dailies/Day 01")
    by_id = {f.id: f for f in client.get_projects()}
    assert by_id[dailies].name == "Dailies"
    assert by_id[day01].name == "Day 01" and by_id[day01].parent_project_id == dailies


def test_a_misspelt_folder_lists_the_real_ones(client):
    with pytest.raises(ProjectResolutionError) as caught:
        resolve_project(client, "Demo Production/Dalies")
    assert str(caught.value) == (
        "no folder 'Dalies' in 'Demo Production' (did you mean 'Dailies'?); folders there: Dailies"
    )


def test_a_production_the_user_cannot_see_is_unknown(client):
    with pytest.raises(ProjectResolutionError) as caught:
        resolve_project(client, "Closed Set/Rushes")
    assert (
        str(caught.value)
    ) == "no production 'Closed Set' visible to this user; productions: Demo Production"


def test_a_folder_id_is_checked_against_what_the_user_sees(client):
    directory = ProjectDirectory(client)
    dailies = directory.resolve("Demo Production/Dailies")
    assert directory.check_id(dailies) == dailies
    with pytest.raises(ProjectResolutionError, match="Demo Production/Dailies/Day 01"):
        directory.check_id(987654)


def write_config(tmp_path, url, *, project="Demo Production/Dailies/Day 01", key=DEMO_API_KEY):
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    key_file = tmp_path / "api_key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    main = tmp_path / "watchd.yaml"
    main.write_text(
        textwrap.dedent(
            f"""\
            flowcapture: {{url: "{url}", email: {DEMO_EMAIL}, api_key_file: api_key}}
            state_dir: state
            folders:
              - {{name: day1, path: {drop}, project: "{project}"}}
            """
        )
    )
    return main


def run(*argv):
    parser = argparse.ArgumentParser(prog="watchd")
    check_config_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check-config", *argv])
    return args.func(args)


def test_check_config_online_reports_the_resolved_projects(emulator, client, tmp_path, capsys):
    day01 = resolve_project(client, "Demo Production/Dailies/Day 01")
    main = write_config(tmp_path, emulator.api_url)
    assert run("--config", str(main), "--online") == 0
    assert capsys.readouterr().out == (
        f"database: SQLite {tmp_path / 'state' / 'watchd.db'}, not created yet "
        "(`watchd run` creates it)\n"
        f"OK: 1 folder (day1 -> project {day01})\n"
    )


def test_check_config_online_connects_to_a_shared_database_and_names_its_schema(
    emulator, tmp_path, capsys, pg_db
):
    main = write_config(tmp_path, emulator.api_url)
    url = pg_db.url
    main.write_text(main.read_text() + f"database: {url}\n")
    assert run("--config", str(main), "--online") == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"database: PostgreSQL {url}, schema revision {head_revision()} (current)"
    with pg_db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff'")
    assert run("--config", str(main), "--online") == 1
    err = capsys.readouterr().err
    assert "schema revision ffff, newer than this watchd's" in err


def test_check_config_online_names_an_unreachable_database_at_its_key(emulator, tmp_path, capsys):
    main = write_config(tmp_path, emulator.api_url)
    url = f"postgresql+psycopg://watchd@127.0.0.1:{free_port()}/watchd"
    main.write_text(main.read_text() + f"database: {url}\n")
    assert run("--config", str(main), "--online") == 1
    err = capsys.readouterr().err
    assert f"database: cannot reach the database server of {url}" in err


def test_check_config_online_reports_an_unknown_project_at_its_key(emulator, tmp_path, capsys):
    main = write_config(tmp_path, emulator.api_url, project="Demo Production/Rushes")
    assert run("--config", str(main), "--online") == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{main}:4: folders[0].project: no folder 'Rushes' in 'Demo Production'; "
        "folders there: Dailies",
        "1 problem found",
    ]


def test_check_config_online_reports_a_refused_key_once(emulator, tmp_path, capsys):
    main = write_config(tmp_path, emulator.api_url, key="wrong-key-123")
    assert run("--config", str(main), "--online") == 1
    err = capsys.readouterr().err
    assert f"flowcapture.email: Flow Capture refused the API key for {DEMO_EMAIL} " in err
    assert f"(from file {tmp_path / 'api_key'})" in err
    assert "wrong-key-123" not in err
    assert err.endswith("1 problem found\n")


def test_check_config_online_reports_an_unreachable_service(tmp_path, capsys):
    main = write_config(tmp_path, "http://127.0.0.1:9")
    assert run("--config", str(main), "--online") == 1
    err = capsys.readouterr().err
    assert "flowcapture.url: cannot reach Flow Capture at http://127.0.0.1:9" in err
