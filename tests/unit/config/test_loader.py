from pathlib import Path

from watchd.config import load_config
from watchd.config.loader import read_config
from watchd.config.units import parse_size


def test_a_valid_config_loads_with_defaults_filled(cfg):
    dailies, edit = cfg.drop("dailies"), cfg.drop("edit")
    cfg.write_main(
        f"""\
        transfer: {{part_size: 32MiB, bandwidth: 40MB/s}}
        folders:
          - path: {edit}
            project_id: 42
            after_upload: delete
        """
    )
    cfg.write_folder(
        "dailies.yaml",
        f"""\
        path: {dailies}
        project: " Show Name / Dailies "
        include: ["*.mov"]
        settle: 2s
        batch: {{name: "{{subdir}}", idle: 5m}}
        metadata: {{tags: [dailies], from_path: '(?P<scene>\\d+)_(?P<take>\\d+)'}}
        after_upload: {{move_to: ../archive}}
        """,
    )
    cfg.write_folder(".hidden.yaml", "nonsense: [")
    cfg.write_folder("notes.txt", "nonsense: [")

    config = load_config(cfg.main)

    assert config.flowcapture.url == "https://api.moxion.io"
    assert config.flowcapture.api_key_file == cfg.root / "api_key"
    assert config.state_dir == cfg.root / "state"
    assert config.database is None  # the store puts it in state_dir
    assert config.transfer.part_size == parse_size("32MiB")
    assert config.transfer.parallel_files is None  # as many files as connections
    assert config.transfer.connections == 32
    assert config.transfer.bandwidth.constant_rate == 40_000_000
    assert config.retry.backoff_max == 1800
    assert config.scan.rescan_interval == 300
    assert config.log.file is None and config.log.level == "info"
    assert config.metrics is None
    assert [f.name for f in config.folders] == ["edit", "dailies"]

    edit_folder, dailies_folder = config.folders
    assert edit_folder.project_id == 42 and edit_folder.after_upload.action == "delete"
    assert edit_folder.include == ["*"] and edit_folder.settle == 10
    assert dailies_folder.project == "Show Name/Dailies"
    assert dailies_folder.settle == 2 and dailies_folder.batch.idle == 300
    assert dailies_folder.metadata.from_path_regex is not None
    assert dailies_folder.archive == cfg.root / "archive"  # relative to folders.d
    assert dailies_folder.origin is not None
    assert dailies_folder.origin.file == cfg.folders_d / "dailies.yaml"


def test_a_typo_names_file_line_key_and_the_close_match(cfg):
    cfg.write_main()
    cfg.write_folder("dailies.yaml", f"path: {cfg.drop('d')}\nproject_id: 1\nsetle: 10s\n")
    assert cfg.problems() == [
        f"{cfg.folders_d / 'dailies.yaml'}:3: setle: unknown key 'setle'; did you mean 'settle'?"
    ]


def test_a_typo_in_a_nested_section_suggests_from_that_section(cfg):
    cfg.write_main("transfer:\n  paralel_files: 3\n")
    (problem,) = cfg.problems()
    assert problem.endswith(
        ":7: transfer.paralel_files: unknown key 'paralel_files'; did you mean 'parallel_files'?"
    )


def test_wrong_types_and_values_are_all_reported_together(cfg):
    cfg.write_main(
        """\
        transfer: {part_size: 1MiB, parallel_files: "many", parallel_parts: 100, bandwidth: fast}
        retry: {max_attempts: 0, backoff_initial: 10x}
        log: {level: loud}
        folders:
          - {path: /x, project_id: 1, recursive: maybe, settle: -1s}
        """
    )
    problems = cfg.problems()
    text = "\n".join(problems)
    assert len(problems) == 9, text
    assert "transfer.part_size: must be between 5MiB and 5GiB, not 1MiB" in text
    assert "transfer.parallel_files: should be a valid integer, not 'many'" in text
    assert "transfer.parallel_parts: must be between 1 and 64, not 100" in text
    assert "transfer.bandwidth: 'fast' is not a transfer rate" in text
    assert "retry.max_attempts: must be at least 1, not 0" in text
    assert "retry.backoff_initial: '10x' is not a duration; use e.g. 10s, 5m" in text
    assert "log.level: should be 'debug', 'info', 'warning' or 'error'" in text
    assert "folders[0].recursive: should be a valid boolean, not 'maybe'" in text
    assert "folders[0].settle: '-1s' is not a duration" in text
    assert all(p.startswith(f"{cfg.main}:") for p in problems)


def test_a_rate_without_a_unit_names_its_key_and_what_to_write(cfg):
    cfg.write_main("transfer: {bandwidth: 40}\n")
    assert cfg.problems() == [
        f"{cfg.main}:6: transfer.bandwidth: 40 has no unit; write e.g. 40MB/s, 5MiB/s or unlimited"
    ]


def test_a_rate_below_the_lowest_cap_names_its_key_and_what_to_write(cfg):
    cfg.write_main("transfer:\n  bandwidth: 10KB/s\n")
    assert cfg.problems() == [
        f"{cfg.main}:7: transfer.bandwidth: 10KB/s is below the lowest cap of 64 KiB/s; "
        "write 64KiB/s or more, or unlimited"
    ]


def test_problems_in_two_files_are_reported_together(cfg):
    cfg.write_main("retry: {backoff_max: soon}\n")
    cfg.write_folder("a.yaml", f"path: {cfg.drop('a')}\nproject_id: 1\npoll: 3\n")
    problems = cfg.problems()
    assert problems == [
        f"{cfg.main}:6: retry.backoff_max: 'soon' is not a duration; use e.g. 10s, 5m, 1h30m "
        "or 500ms",
        f"{cfg.folders_d / 'a.yaml'}:3: poll: should be a valid boolean, not 3",
    ]


def test_yaml_syntax_errors_carry_the_line(cfg):
    cfg.write_main()
    cfg.write_folder("bad.yaml", "path: /x\nproject: [unclosed\n")
    (problem,) = cfg.problems()
    assert problem.startswith(f"{cfg.folders_d / 'bad.yaml'}:3: YAML syntax error")


def test_a_repeated_key_is_a_problem(cfg):
    cfg.write_folder("a.yaml", f"path: {cfg.drop('a')}\nproject_id: 1\nsettle: 1s\nsettle: 2s\n")
    cfg.write_main()
    assert cfg.problems() == [
        f"{cfg.folders_d / 'a.yaml'}:4: settle: repeated key (first given on line 3)"
    ]


def test_an_api_key_in_the_yaml_is_refused_without_echoing_it(cfg):
    cfg.write_main(
        """\
        flowcapture:
          email: ingest@example.com
          api_key: s3cr3t-value
        folders:
          - {path: /a, project_id: 1, token: s3cr3t-token}
        """,
        base=False,
    )
    everything = cfg.problems()  # then the machine's: /a is missing, no key source
    assert "s3cr3t" not in "\n".join(everything)
    problems = [p for p in everything if "secrets do not belong" in p]
    assert len(problems) == 2
    for problem in problems:
        assert "api_key_file" in problem and "api_key_env" in problem
        assert "systemd credential" in problem
    assert problems[0].startswith(f"{cfg.main}:3: flowcapture.api_key: secrets do not belong")
    assert problems[1].startswith(f"{cfg.main}:5: folders[0].token: secrets do not belong")


def test_project_and_project_id_are_one_or_the_other_or_neither(cfg):
    cfg.write_main(
        """\
        folders:
          - {path: /a, project: S/F, project_id: 3}
          - {path: /b}
          - {path: /c, project: "Show Only"}
          - {path: /d, project: 12}
        """
    )
    problems = cfg.problems()
    assert f"{cfg.main}:7: folders[0]: give project or project_id, not both" in problems
    assert not any("folders[1]: " in p or "folders[1].project" in p for p in problems)
    assert any("folders[2].project: 'Show Only' names a production" in p for p in problems)
    assert any("folders[3].project: 12 is a number; write project_id: 12" in p for p in problems)


def test_a_batch_template_with_an_unknown_placeholder_is_refused(cfg):
    cfg.write_main("folders:\n  - {path: /a, project_id: 1, batch: {name: '{scene} {date}'}}\n")
    (problem,) = cfg.problems()
    assert "folders[0].batch.name: unknown placeholder {scene}" in problem


def test_from_path_must_compile_and_name_a_group(cfg):
    cfg.write_main(
        """\
        folders:
          - {path: /a, project_id: 1, metadata: {from_path: '(?P<scene>\\d+'}}
          - {path: /b, project_id: 1, metadata: {from_path: '(\\d+)_(\\d+)'}}
        """
    )
    first, second = cfg.problems()
    assert "folders[0].metadata.from_path: '(?P<scene>\\d+' is not a valid regular expression" in (
        first
    )
    assert "folders[1].metadata.from_path: '(\\d+)_(\\d+)' has no named group" in second


def test_after_upload_accepts_only_its_three_forms(cfg):
    cfg.write_main(
        """\
        folders:
          - {path: /a, project_id: 1, after_upload: archive}
          - {path: /b, project_id: 1, after_upload: {move_to: /arch, mode: x}}
          - {path: /c, project_id: 1, after_upload: {action: delete}}
        """
    )
    problems = cfg.problems()
    assert (
        "folders[0].after_upload: 'archive' is not an action; use keep, delete or " in (problems[0])
    )
    assert "folders[1].after_upload.mode: unknown key 'mode'" in problems[1]
    assert "folders[2].after_upload: " in problems[2]


def test_folder_names_default_to_file_stem_and_must_be_unique(cfg):
    cfg.write_main(f"folders:\n  - {{path: {cfg.drop('dailies')}, project_id: 1}}\n")
    cfg.write_folder("dailies.yaml", f"path: {cfg.drop('other')}\nproject_id: 2\n")
    (problem,) = cfg.problems()
    assert problem.startswith(f"{cfg.folders_d / 'dailies.yaml'}: name: name 'dailies' is ")
    assert "names must be unique" in problem


def test_a_missing_folders_dir_is_a_problem(cfg):
    cfg.write_main()
    cfg.folders_d.rmdir()
    (problem,) = cfg.problems()
    assert problem == f"{cfg.main}:5: folders_dir: {cfg.folders_d}: does not exist"


def test_a_folder_file_that_is_not_a_mapping_is_a_problem(cfg):
    cfg.write_main()
    cfg.write_folder("empty.yaml", "")
    cfg.write_folder("list.yml", "- a\n")
    problems = cfg.problems()
    assert problems == [
        f"{cfg.folders_d / 'empty.yaml'}: the file is empty; a drop folder needs at least path",
        f"{cfg.folders_d / 'list.yml'}: expected keys (a YAML mapping); a drop folder needs at "
        "least path",
    ]


def test_an_empty_main_file_says_what_it_needs(cfg):
    cfg.main.write_text("")
    assert cfg.problems() == [f"{cfg.main}: the file is empty; it needs flowcapture.email"]


def test_missing_required_keys_are_named(cfg):
    cfg.write_main("log: {}\n", base=False)
    assert cfg.problems() == [f"{cfg.main}: flowcapture: required key is missing"]


def test_a_database_url_with_a_password_is_refused(cfg):
    cfg.write_main("database: postgresql+psycopg://watchd:hunter2@db/watchd\n")
    (problem,) = cfg.problems()
    assert "database: must not contain a password; put it in a file named by " in problem
    assert "database_password_file" in problem and "~/.pgpass" in problem
    assert "hunter2" not in problem


def test_relative_paths_resolve_against_the_config_file_not_the_working_dir(cfg, monkeypatch):
    monkeypatch.chdir("/")
    cfg.write_main("folders:\n  - {path: drop/x, project_id: 1}\n")
    config = load_config(Path(cfg.main))
    assert config.folders[0].path == cfg.root / "drop" / "x"
    assert config.folders[0].name == "x"


def test_commands_on_the_state_get_the_sound_folders_but_never_half_a_main_file(cfg):
    # A broken drop folder file leaves the rest usable (the operator is not locked out of
    # a running daemon); any problem of the main file itself (here: a repeated key, which
    # could name another state folder than the daemon's) gives no config at all.
    good, bad = cfg.drop("good"), cfg.drop("bad")
    cfg.write_main("")
    cfg.write_folder("good.yaml", f"path: {good}\nproject_id: 1\n")
    cfg.write_folder("bad.yaml", f"path: {bad}\nproject_id: 1\nsetle: 5s\n")
    config, problems = read_config(cfg.main)
    assert config is not None and [f.name for f in config.folders] == ["good"]
    assert [p.file.name for p in problems] == ["bad.yaml"]

    cfg.write_main("state_dir: elsewhere\n")  # (the head already gives state_dir)
    config, problems = read_config(cfg.main)
    assert config is None
    assert any(p.key == "state_dir" and "repeated key" in p.message for p in problems)
