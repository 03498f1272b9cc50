"""The one error type the emulator raises; the API renders it as JSON, S3 as XML."""

from __future__ import annotations


class EmulatorError(Exception):
    """A request failed with an HTTP status, a machine code and a human message.

    ``retry_after`` (seconds) becomes a Retry-After header when set.
    """

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def bad_param(name: str, problem: str) -> EmulatorError:
    """Return a 400 error naming the offending parameter."""
    return EmulatorError(400, "InvalidParameter", f"parameter '{name}' {problem}")


def not_found(what: str, ident: object) -> EmulatorError:
    """Return a 404 error for an unknown object."""
    return EmulatorError(404, "NotFound", f"{what} {ident} not found")


def forbidden(message: str) -> EmulatorError:
    """Return a 403 error."""
    return EmulatorError(403, "Forbidden", message)
