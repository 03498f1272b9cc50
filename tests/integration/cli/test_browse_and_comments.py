import uuid

from tests.integration.conftest import VIEWER_API_KEY, folder_id, wait_for
from watchd.cli.main import main
from watchd.config import load_config
from watchd.flowcapture.upload import upload_file


def test_productions_lists_only_what_the_user_sees(cli):
    code, out, _ = cli("productions")
    assert code == 0
    assert "Demo Production" in out and "Closed Set" not in out
    assert [p["name"] for p in cli.json("productions")] == ["Demo Production"]


def test_folders_as_a_tree_with_ids(cli):
    folders = {f["name"]: f for f in cli.json("folders")}
    code, out, _ = cli("folders", "--tree")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Demo Production (")
    assert f"  Dailies ({folders['Dailies']['id']})" in lines
    assert f"    Day 01 ({folders['Day 01']['id']})" in lines
    assert folders["Day 01"]["path"] == "Demo Production/Dailies/Day 01"


def test_assets_by_folder_path_and_batch(cli, uploaded):
    asset_id, ident, data = uploaded
    rows = cli.json("assets", "Demo Production/Dailies", "--batch", "B1")
    assert [(a["id"], a["uuid"]) for a in rows] == [(asset_id, ident)]
    assert cli.json("assets", "Demo Production/Dailies", "--batch", "other") == []
    code, out, _ = cli("assets", "Demo Production/Dailies", "--batch", "B1")
    header, row = out.splitlines()
    assert code == 0 and header.split() == ["ID", "UUID", "BATCH", "SIZE", "NAME"]
    assert row.split() == [str(asset_id), ident, "B1", str(len(data)), "A001_012_003.mov"]
    assert cli("assets", "Demo Production/Dailies", "--batch", "other")[1] == "no assets\n"


def test_a_folder_the_user_cannot_see_is_a_clear_error(cli):
    code, out, err = cli("assets", "Closed Set/Rushes")
    assert code == 1
    assert out == ""
    assert "no production 'Closed Set'" in err and "Traceback" not in err


def test_comments_thread_replies_and_hide_io_points(cli, uploaded, client):
    _, ident, _ = uploaded
    code, out, _ = cli("comment", "add", ident, "Too dark", "--at", "12.5", "--color", "#ff00ee")
    assert code == 0 and "Too dark" in out
    parent = cli.json("comments", ident)[0]["id"]
    assert cli("comment", "add", ident, "Agreed", "--reply-to", str(parent))[0] == 0
    client.transport.call(
        "/create/comment",
        {"asset_id": ident, "description": "in/out", "type": "IO_POINT"},
        client._current_token(),
    )
    code, out, _ = cli("comments", ident)
    lines = out.splitlines()
    assert lines[0] == f"[{parent}] Demo User @12.50s #ff00ee: Too dark"
    assert lines[1].startswith("  [") and lines[1].endswith("Agreed")
    assert "in/out" not in out

    assert cli("comment", "edit", str(parent), "--text", "Much too dark")[0] == 0
    assert cli.json("comments", ident)[0]["description"] == "Much too dark"
    assert cli("comment", "delete", str(parent))[0] == 0
    assert cli.json("comments", ident) == []


def test_a_bad_colour_is_refused_before_calling_the_api(cli, uploaded):
    code, _, err = cli("comment", "add", uploaded[1], "x", "--color", "red")
    assert code == 1 and "#ff00ee" in err


def test_tag_sets_tags_and_metadata(cli, uploaded, client):
    asset_id, ident, _ = uploaded
    code, out, _ = cli("tag", str(asset_id), "scene=12", "take=3", "--tags", "dailies,day1")
    assert code == 0 and "updated" in out
    (asset,) = [a for a in cli.json("assets", "Demo Production/Dailies") if a["uuid"] == ident]
    assert asset["tags"] == ["dailies", "day1"]
    assert asset["metadata"]["scene"] == "12"


def test_a_viewer_cannot_tag(cli, uploaded, monkeypatch):
    monkeypatch.setenv("WATCHD_API_KEY", VIEWER_API_KEY)
    code, _, err = cli("tag", uploaded[1], "a=b", email="viewer@example.com")
    assert code == 1 and "HTTP 403" in err


def test_credentials_come_from_the_daemons_config(emulator, tmp_path, capsys, monkeypatch):
    key = tmp_path / "key"
    key.write_text("demo-api-key\n")
    key.chmod(0o600)
    config = tmp_path / "watchd.yaml"
    config.write_text(
        f"flowcapture: {{url: '{emulator.api_url}', email: demo@example.com, "
        f"api_key_file: {key}}}\nstate_dir: {tmp_path / 'state'}\n"
    )
    monkeypatch.setenv("WATCHD_CONFIG", str(config))
    monkeypatch.delenv("WATCHD_API_KEY", raising=False)
    assert main(["productions", "--config", str(config)]) == 0
    assert "Demo Production" in capsys.readouterr().out
    key.chmod(0o644)
    assert main(["productions", "--config", str(config)]) == 1
    assert "chmod 600" in capsys.readouterr().err


def test_email_without_a_key_is_a_clear_error(emulator, capsys, monkeypatch):
    monkeypatch.delenv("WATCHD_API_KEY", raising=False)
    assert main(["productions", "--email", "demo@example.com", "--url", emulator.api_url]) == 1
    assert "WATCHD_API_KEY" in capsys.readouterr().err


def test_the_printed_samples_load_as_a_valid_config(tmp_path, capsys):
    assert main(["sample-config"]) == 0
    main_text = capsys.readouterr().out
    assert main(["sample-config", "--folder"]) == 0
    folder_text = capsys.readouterr().out
    (tmp_path / "folders.d").mkdir()
    (tmp_path / "folders.d" / "dailies.yaml").write_text(folder_text)
    (tmp_path / "watchd.yaml").write_text(main_text)  # folders_dir: folders.d, beside it
    config = load_config(tmp_path / "watchd.yaml")
    assert [f.name for f in config.folders] == ["dailies"]


def test_text_from_other_users_cannot_drive_the_terminal(cli, uploaded, client, tmp_path):
    _, ident, _ = uploaded
    hostile = "\x1b[2K\r\x1b]0;PWNED\x07fine\nsecond line"
    client.transport.call(
        "/create/comment", {"asset_id": ident, "description": hostile}, client._current_token()
    )
    code, out, _ = cli("comments", ident)
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert "\\u001b]0;PWNED\\u0007fine\n    second line" in out, "its lines kept, indented"
    dailies = folder_id(client, "Dailies")
    source = tmp_path / "evil\x1b[31m.mov"
    source.write_bytes(b"x" * 1000)
    batch = "B\x1b]0;X\x07"
    result = upload_file(
        client, source, project_id=dailies, uuid=str(uuid.uuid4()), batch_name=batch
    )
    client.complete_upload(dailies, [result.upload.key], batch_name=batch)
    wait_for(lambda: len(client.get_assets(dailies)) == 2)
    code, out, _ = cli("assets", "Demo Production/Dailies")
    assert code == 0 and "\x1b" not in out and "\x07" not in out
    assert "B\\u001b]0;X\\u0007" in out
