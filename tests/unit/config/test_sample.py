from watchd.config import load_config
from watchd.config.fieldtypes import Model
from watchd.config.folder_schema import FolderConfig
from watchd.config.sample import sample_config, sample_folder
from watchd.config.schema import Config, model_in


def test_the_sample_config_and_folder_load(tmp_path):
    (tmp_path / "folders.d").mkdir()
    (tmp_path / "watchd.yaml").write_text(sample_config())
    (tmp_path / "folders.d" / "dailies.yaml").write_text(sample_folder())
    config = load_config(tmp_path / "watchd.yaml")
    (folder,) = config.folders
    assert folder.name == "dailies" and folder.project == "Show Name/Dailies"
    assert config.transfer == Config.model_fields["transfer"].get_default(call_default_factory=True)


def test_values_given_by_dotted_key_replace_the_samples(tmp_path):
    text = sample_config(
        {
            "flowcapture.email": "me@example.com",
            "flowcapture.api_key_file": None,
            "flowcapture.api_key_env": "MY_KEY",
            "folders_dir": None,
            "metrics.listen": "127.0.0.1:9999",
        }
    )
    (tmp_path / "watchd.yaml").write_text(text)
    config = load_config(tmp_path / "watchd.yaml")
    assert config.flowcapture.email == "me@example.com"
    assert config.flowcapture.api_key_file is None
    assert config.flowcapture.api_key_env == "MY_KEY"
    assert config.folders_dir is None
    assert config.metrics is None  # a value inside a commented-out section stays commented


def test_every_key_of_the_schema_is_in_the_samples():
    def keys(model: type[Model]) -> set[str]:
        return set(model.model_fields)

    config_text, folder_text = sample_config(), sample_folder()
    for key in keys(Config):
        assert f"{key}:" in config_text
    for key in keys(FolderConfig):
        assert f"{key}:" in folder_text


def test_every_key_at_every_depth_has_a_one_line_description():
    pending: list[type[Model]] = [Config]
    seen = 0
    while pending:
        model = pending.pop()
        for name, field in model.model_fields.items():
            seen += 1
            assert field.description, f"{model.__name__}.{name}"
            assert "\n" not in field.description, f"{model.__name__}.{name}"
            sub = model_in(field.annotation)
            if sub is not None and sub.__name__ != "AfterUpload":  # written as one scalar
                pending.append(sub)
    assert seen > 40


def test_a_key_the_sample_sets_but_that_has_no_default_says_so():
    lines = sample_config().splitlines()
    at = lines.index("folders_dir: folders.d")
    assert lines[at - 1].endswith("(default: none; this sample sets it)")
