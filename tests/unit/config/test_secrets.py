import pytest

from watchd.config.schema import FlowCaptureSettings
from watchd.config.secrets import ApiKeyError, describe_source, read_api_key

KEY = "k3y-value-1234"


def settings(**kwargs):
    return FlowCaptureSettings(email="a@example.com", **kwargs)


def test_a_private_key_file_is_read_and_stripped(tmp_path):
    key_file = tmp_path / "api_key"
    key_file.write_text(f"  {KEY}\n")
    key_file.chmod(0o600)
    assert read_api_key(settings(api_key_file=key_file), environ={}) == KEY


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(tmp_path, mode):
    key_file = tmp_path / "api_key"
    key_file.write_text(KEY)
    key_file.chmod(mode)
    with pytest.raises(ApiKeyError) as caught:
        read_api_key(settings(api_key_file=key_file), environ={})
    message = str(caught.value)
    assert f"chmod 600 {key_file}" in message
    assert f"mode {mode:04o}" in message
    assert KEY not in message


def test_an_empty_or_missing_key_file_is_refused(tmp_path):
    key_file = tmp_path / "api_key"
    with pytest.raises(ApiKeyError, match="does not exist"):
        read_api_key(settings(api_key_file=key_file), environ={})
    key_file.write_text("\n")
    key_file.chmod(0o600)
    with pytest.raises(ApiKeyError, match="is empty"):
        read_api_key(settings(api_key_file=key_file), environ={})
    key_file.write_text("one\ntwo\n")
    with pytest.raises(ApiKeyError, match="more than one word or line"):
        read_api_key(settings(api_key_file=key_file), environ={})


def test_the_key_comes_from_the_named_environment_variable():
    assert read_api_key(settings(api_key_env="MY_KEY"), environ={"MY_KEY": KEY}) == KEY
    with pytest.raises(ApiKeyError, match=r"MY_KEY .*is not set"):
        read_api_key(settings(api_key_env="MY_KEY"), environ={})


def test_without_file_or_env_the_systemd_credential_is_used(tmp_path):
    (tmp_path / "api_key").write_text(KEY + "\n")
    (tmp_path / "api_key").chmod(0o444)  # systemd's own mode is not judged
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert read_api_key(settings(), environ=env) == KEY
    assert describe_source(settings(), environ=env) == f"systemd credential 'api_key' in {tmp_path}"


def test_no_source_at_all_names_every_source_tried(tmp_path):
    with pytest.raises(ApiKeyError) as caught:
        read_api_key(settings(), environ={})
    message = str(caught.value)
    assert "api_key_file" in message and "api_key_env" in message
    assert "$CREDENTIALS_DIRECTORY is not set" in message
    with pytest.raises(ApiKeyError, match=r"credential .*api_key does not exist"):
        read_api_key(settings(), environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})


def test_file_and_env_together_are_refused():
    with pytest.raises(ValueError, match="give api_key_file or api_key_env, not both"):
        settings(api_key_file="/k", api_key_env="K")
