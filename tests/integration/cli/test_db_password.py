"""The shared database's password from database_password_file or the systemd credential."""

from __future__ import annotations

import pytest
import yaml

from tests.pg import PgServer
from watchd.cli.main import main
from watchd.store.migrate import head_revision

PASSWORD = "pw-Only-In-A-File"


@pytest.fixture
def ingest_url(pg_server: PgServer, pg_url: str) -> str:
    name = pg_url.rsplit("/", 1)[1]
    role = f"ingest_{name}"
    pg_server.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
    pg_server.execute(f'ALTER DATABASE "{name}" OWNER TO {role}')
    return pg_server.url(name, user=role)


def config_for(tmp_path, url: str, **extra) -> str:
    key = tmp_path / "api_key"
    key.write_text("demo-api-key\n")
    key.chmod(0o600)
    settings = {
        "flowcapture": {"email": "demo@example.com", "api_key_file": str(key)},
        "state_dir": str(tmp_path / "state"),
        "database": url,
        **extra,
    }
    path = tmp_path / "watchd.yaml"
    path.write_text(yaml.safe_dump(settings))
    return str(path)


def test_db_upgrade_reads_the_password_from_database_password_file(ingest_url, tmp_path, capsys):
    secret = tmp_path / "db_password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    config = config_for(tmp_path, ingest_url, database_password_file=str(secret))
    assert main(["db", "upgrade", "--config", config]) == 0
    out, err = capsys.readouterr()
    assert f"schema revision {head_revision()}" in out
    assert main(["db", "current", "--config", config]) == 0
    out, _ = capsys.readouterr()
    assert f"database revision: {head_revision()}" in out
    assert PASSWORD not in out + err


def test_the_systemd_credential_holds_the_password_when_no_file_is_configured(
    ingest_url, tmp_path, capsys, monkeypatch
):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "watchd-db-password").write_text(PASSWORD)
    (credentials / "watchd-db-password").chmod(0o440)  # systemd's mode, not ours to judge
    config = config_for(tmp_path, ingest_url)
    assert main(["db", "upgrade", "--config", config]) == 1  # no password anywhere yet
    _, err = capsys.readouterr()
    assert "refused user ingest_" in err and PASSWORD not in err
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert main(["db", "upgrade", "--config", config]) == 0
    out, err = capsys.readouterr()
    assert f"schema revision {head_revision()}" in out, err
