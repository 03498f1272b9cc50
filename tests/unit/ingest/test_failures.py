import errno

from sqlalchemy.exc import OperationalError

from watchd.flowcapture.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    ServerError,
    UploadNotFoundError,
)
from watchd.ingest.failures import judge


def test_verdicts():
    assert judge(ServerError("boom", status=503)).retryable
    assert not judge(BadRequestError("bad", status=400)).retryable
    assert judge(AuthenticationError("refused")).retryable  # fixing the key resumes the queue
    assert judge(UploadNotFoundError("gone")).retryable  # starts over
    assert not judge(NotFoundError("no folder")).retryable
    assert judge(NotFoundError("not ready"), ingesting=True).retryable
    assert judge(OSError(errno.EIO, "I/O error")).retryable
    assert not judge(PermissionError(errno.EACCES, "denied", "/drop/a.mov")).retryable
    assert judge(OperationalError("INSERT", {}, Exception("database or disk is full"))).retryable
    assert not judge(RuntimeError("bug")).retryable
