"""An HTTP answer as the transport hands it on: status, headers, body.

A thin wrapper over urllib3's response: the API calls and part PUTs read the
whole (small) body at once; a download streams it and closes the answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from urllib3 import BaseHTTPResponse, HTTPHeaderDict

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Answer:
    """One answer to a request sent by :class:`~watchd.flowcapture.transport.Transport`."""

    __slots__ = ("_raw",)

    def __init__(self, raw: BaseHTTPResponse):
        self._raw = raw

    @property
    def status_code(self) -> int:
        return self._raw.status

    @property
    def reason(self) -> str:
        return self._raw.reason or ""

    @property
    def headers(self) -> HTTPHeaderDict:
        """The headers, looked up without regard to case."""
        return self._raw.headers

    @property
    def is_redirect(self) -> bool:
        return self._raw.status in REDIRECT_STATUSES and "Location" in self._raw.headers

    @property
    def content(self) -> bytes:
        """The whole body (read now if it was streamed)."""
        return self._raw.data or b""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """Return the body decoded as JSON; raises ValueError if it is not JSON."""
        return json.loads(self.content)

    def chunks(self, size: int) -> Iterator[bytes]:
        """Yield a streamed body in chunks of up to ``size`` bytes, as they arrive."""
        yield from self._raw.stream(size, decode_content=False)

    def close(self) -> None:
        """Close the answer (a streamed body not read to its end closes its connection)."""
        self._raw.close()
        self._raw.release_conn()

    def __enter__(self) -> Answer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
