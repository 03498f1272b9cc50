import pytest

from watchd.flowcapture.errors import (
    AuthenticationError,
    BadRequestError,
    DigestMismatchError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    UploadNotFoundError,
    error_for_status,
)
from watchd.flowcapture.models import Asset, DirectDownload, Folder, TaskMessage, list_of
from watchd.flowcapture.wire import error_of, request_body, unwrap_response


def test_unknown_fields_are_kept_not_rejected():
    folder = Folder.from_wire({"id": 7, "name": "Dailies", "parent_project_id": 3, "colour": "red"})
    assert folder.parent_project_id == 3
    assert folder.extra == {"colour": "red"}
    assert folder.to_dict()["colour"] == "red"


def test_a_list_endpoint_must_answer_with_an_array():
    with pytest.raises(ValueError, match="JSON array of Asset"):
        list_of(Asset, {"id": 1})


def test_direct_download_builds_nested_models():
    answer = DirectDownload.from_wire(
        {
            "errors": [{"asset_id": 4, "error_message": "Permissions error"}],
            "successful_processes": [
                {"asset_id": 5, "filename": "a.mov", "processing": True, "task_id": "t1"}
            ],
        }
    )
    assert answer.errors[0].error_message == "Permissions error"
    assert answer.successful_processes[0].task_id == "t1"


def test_task_message_exposes_progress_and_url():
    message = TaskMessage.from_wire({"task_id": "t1", "message": {"progress": "40%"}})
    assert message.progress == "40%"
    assert message.direct_url is None


def test_presigned_urls_stay_out_of_reprs():
    answer = DirectDownload.from_wire(
        {"successful_processes": [{"asset_id": 5, "url": "http://h/o?X-Amz-Signature=secret"}]}
    )
    assert "secret" not in repr(answer)


def test_parameters_go_under_data_and_nones_are_dropped():
    assert request_body({"project_id": 12, "group_id": None}) == {"data": {"project_id": 12}}


def test_wrapped_responses_are_unwrapped():
    assert unwrap_response({"data": [1, 2]}) == [1, 2]
    assert unwrap_response({"data": 1, "other": 2}) == {"data": 1, "other": 2}


def test_error_bodies_are_recognised():
    assert error_of({"error": {"code": "bad", "message": "no"}}) == ("bad", "no")
    assert error_of({"error": "plain"}) == ("error", "plain")
    assert error_of({"ok": True}) is None
    assert error_of([1]) is None


@pytest.mark.parametrize(
    ("status", "code", "kind", "retryable"),
    [
        (401, None, AuthenticationError, False),
        (403, None, PermissionDeniedError, False),
        (404, None, NotFoundError, False),
        (404, "NoSuchUpload", UploadNotFoundError, False),
        (400, None, BadRequestError, False),
        (400, "BadDigest", DigestMismatchError, True),
        (429, None, RateLimitedError, True),
        (500, None, ServerError, True),
        (503, None, ServerError, True),
    ],
)
def test_statuses_map_to_error_types(status, code, kind, retryable):
    error = error_for_status(status, "msg", code=code)
    assert type(error) is kind
    assert error.retryable is retryable
    assert f"HTTP {status}" in str(error)
