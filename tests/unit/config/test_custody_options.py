import pytest
from pydantic import ValidationError

from watchd.config.folder_schema import FolderConfig


def folder(**keys):
    return FolderConfig.model_validate({"path": "/srv/drop", "project_id": 1, **keys})


def test_custody_options_default_to_verify_where_a_history_exists_and_receipts_in_state_dir():
    config = folder()
    assert config.verify == "auto"
    assert config.receipt.where == "state_dir" and config.receipt.dir is None
    assert config.allow_unverified_delete is False


@pytest.mark.parametrize(
    ("value", "where", "directory"),
    [("history", "history", None), ("off", "off", None), ({"dir": "/srv/r"}, "dir", "/srv/r")],
)
def test_a_receipt_goes_to_the_history_a_folder_or_nowhere(value, where, directory):
    receipt = folder(receipt=value).receipt
    assert receipt.where == where
    assert (str(receipt.dir) if receipt.dir else None) == directory


def test_a_wrong_receipt_or_verify_value_names_the_key_and_the_choices():
    with pytest.raises(ValidationError, match=r"receipt\n.*'nowhere' is not a receipt target"):
        folder(receipt="nowhere")
    with pytest.raises(ValidationError, match="verify"):
        folder(verify="sometimes")
