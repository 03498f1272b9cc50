"""Error types raised by the Flow Capture client.

Errors are classified once, here: each type says whether trying again later can
help (``retryable``). Messages never carry the API key, a token or a presigned
URL's query string.
"""

from __future__ import annotations


class FlowCaptureError(Exception):
    """Base of every error the client raises."""

    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"(HTTP {self.status}{', ' + self.code if self.code else ''})")
        return " ".join(parts)


class AuthenticationError(FlowCaptureError):
    """The email/API key was refused, or a token was refused even after re-authenticating."""


class PermissionDeniedError(FlowCaptureError):
    """The user lacks the permission for this object or action (HTTP 403)."""


class NotFoundError(FlowCaptureError):
    """The object does not exist or is not visible to this user (HTTP 404)."""


class UploadNotFoundError(NotFoundError):
    """The multipart upload is unknown to the server (expired, aborted or never made)."""


class ConflictError(FlowCaptureError):
    """The object already exists (HTTP 409), e.g. an asset uuid that is already taken."""


class BadRequestError(FlowCaptureError):
    """The server rejected the parameters (HTTP 400 and other client errors)."""


class DigestMismatchError(BadRequestError):
    """The object store rejected a part because its Content-MD5 did not match the data."""

    retryable = True  # the bytes may have been damaged in transit: send them again


class PresignedUrlExpiredError(FlowCaptureError):
    """A presigned URL expired before it was used; a fresh one must be requested."""

    retryable = True


class RateLimitedError(FlowCaptureError):
    """The server asked us to slow down (HTTP 429)."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class ServerError(FlowCaptureError):
    """The server failed (HTTP 5xx)."""

    retryable = True


class TransportError(FlowCaptureError):
    """The request did not get an answer: connection refused or reset, timeout, bad response.

    ``maybe_sent`` is False when the request never left (no connection could be
    made), so the service cannot have acted on it.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        maybe_sent: bool = True,
    ):
        super().__init__(message, status=status, code=code)
        self.maybe_sent = maybe_sent


class OperationRefusedError(FlowCaptureError):
    """The service answered, but its result flag (``ok``, ``updated``, ``deleted``) was not true.

    The call was understood and not acted on, so trying again later may help
    (an asset still processing, a batch not ready); the message names the endpoint.
    """

    retryable = True


class IntegrityError(FlowCaptureError):
    """Data did not arrive intact (a download of the wrong size, a changed source file)."""

    retryable = True


RETRYABLE_ERRORS: tuple[type[FlowCaptureError], ...] = (
    DigestMismatchError,
    PresignedUrlExpiredError,
    RateLimitedError,
    ServerError,
    TransportError,
    IntegrityError,
    OperationRefusedError,
)


NOT_HANDLED_STATUSES = frozenset({503})  # the server declined to handle the request at all


def outcome_unknown(error: BaseException) -> bool:
    """Return True when a failed call may still have taken effect on the service.

    No answer arrived (a reset or timeout after the request went out), or the
    server or a gateway failed part-way (500, 502, 504). Any other answer, 503
    (service unavailable) included, means it was not acted on.
    """
    if isinstance(error, TransportError):
        return error.maybe_sent
    return isinstance(error, ServerError) and error.status not in NOT_HANDLED_STATUSES


def service_wide(error: BaseException) -> bool:
    """Return True for a failure of the service (or the way to it), not of one request.

    The key refused, the API unreachable (no answer), or a request to slow
    down: every file would fail the same way now, so none should count it.
    """
    return isinstance(error, AuthenticationError | TransportError | RateLimitedError)


def error_for_status(
    status: int, message: str, *, code: str | None = None, retry_after: float | None = None
) -> FlowCaptureError:
    """Return the error type that fits an HTTP status (and S3 error code, when known)."""
    if status == 401:
        return AuthenticationError(message, status=status, code=code)
    if status == 403:
        return PermissionDeniedError(message, status=status, code=code)
    if status == 404:
        if code == "NoSuchUpload":
            return UploadNotFoundError(message, status=status, code=code)
        return NotFoundError(message, status=status, code=code)
    if status == 409:
        return ConflictError(message, status=status, code=code)
    if status == 429:
        return RateLimitedError(message, status=status, code=code, retry_after=retry_after)
    if status >= 500:
        return ServerError(message, status=status, code=code)
    if code in ("BadDigest", "InvalidDigest"):
        return DigestMismatchError(message, status=status, code=code)
    return BadRequestError(message, status=status, code=code)
