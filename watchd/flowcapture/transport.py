"""HTTP plumbing shared by the API calls and the object-store transfers.

Requests go straight to urllib3's connection pools (sized to the concurrency),
which requests' adapter picks with the environment's proxy and CA settings;
every request has a timeout; every failure becomes a
:mod:`~watchd.flowcapture.errors` type with a message free of secrets.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import weakref
from collections.abc import Collection, Iterator, Mapping
from typing import Any, Protocol, cast
from urllib.parse import SplitResult, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import urldefragauth
from urllib3 import Timeout
from urllib3 import exceptions as urllib3_errors
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)

from watchd import __version__
from watchd.flowcapture import wire
from watchd.flowcapture.answer import Answer
from watchd.flowcapture.errors import (
    FlowCaptureError,
    PresignedUrlExpiredError,
    TransportError,
    error_for_status,
)
from watchd.flowcapture.redact import install_log_filter, redact, redact_url

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10.0  # time to open a TCP connection
READ_TIMEOUT_SECONDS = 120.0  # longest silence while sending or waiting for an answer
RETRY_AFTER_MAX_SECONDS = 300.0  # never trust a Retry-After longer than this
STREAM_CHUNK_BYTES = 1024 * 1024  # size of each read when streaming bodies


# What a request may fail with: urllib3's errors, the operating system's, and the few
# requests' adapter raises while it picks a pool (a bad proxy URL).
NETWORK_ERRORS = (urllib3_errors.HTTPError, OSError, requests.RequestException)


class Body(Protocol):
    """A streamed request body: read in chunks, with a known length."""

    def read(self, amount: int = -1) -> bytes | memoryview: ...

    def __len__(self) -> int: ...


ConnectionSet = weakref.WeakSet[HTTPConnection]


def _tracked_pool_classes(connections: ConnectionSet) -> dict[str, type[HTTPConnectionPool]]:
    """Return pool classes whose connections add themselves to ``connections`` on connect."""

    class Tracked:
        """Mixed into a connection class: registers it, and notes which thread sent."""

        user = 0  # the thread that sent the latest request on this connection

        def connect(self) -> None:
            super().connect()  # type: ignore[misc]
            connections.add(self)  # type: ignore[arg-type]

        def request(self, *args: Any, **kwargs: Any) -> None:
            self.user = threading.get_ident()
            super().request(*args, **kwargs)  # type: ignore[misc]

    class TrackedHTTPConnection(Tracked, HTTPConnection):
        pass

    class TrackedHTTPSConnection(Tracked, HTTPSConnection):
        pass

    class TrackedHTTPPool(HTTPConnectionPool):
        ConnectionCls = TrackedHTTPConnection

    class TrackedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = TrackedHTTPSConnection

    return {"http": TrackedHTTPPool, "https": TrackedHTTPSPool}


class _LargeBlockAdapter(HTTPAdapter):
    """An adapter whose connections send bodies in large blocks (fewer Python calls)
    and can all be cut at once (:meth:`interrupt`), so a stop ends blocked reads."""

    def __init__(self, **kwargs: Any):
        self.connections: ConnectionSet = weakref.WeakSet()
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", STREAM_CHUNK_BYTES)
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _tracked_pool_classes(self.connections)

    def interrupt(self, users: Collection[int] | None = None) -> int:
        """Shut down open connections; return how many were cut.

        ``users``: only those whose latest request came from these threads
        (``threading.get_ident()``); None: all of them, in use or idle.
        """
        cut = 0
        for connection in list(self.connections):
            if users is not None and getattr(connection, "user", 0) not in users:
                continue
            sock = getattr(connection, "sock", None)
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue  # already closed
            cut += 1
        return cut


class Transport:
    """Sends API calls and object-store requests over one pooled session."""

    def __init__(
        self,
        base_url: str,
        *,
        pool_size: int = 8,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ):
        install_log_filter()
        self.base_url = base_url.rstrip("/")
        self._environment = requests.Session()  # only for the environment's settings
        self._headers = {
            "User-Agent": f"watchd/{__version__}",
            "Accept": "*/*",
            "Accept-Encoding": "identity",  # bodies are used as sent: media, JSON
        }
        self._timeout = Timeout(connect=connect_timeout, read=read_timeout)
        self._adapter = _LargeBlockAdapter(
            pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0
        )
        # (scheme, host) -> its pool and whether the request line names the whole URL (an
        # HTTP proxy): picked once per host, not at every request (a tenth of a small one).
        self._routes: dict[tuple[str, str], tuple[HTTPConnectionPool, bool]] = {}

    def close(self) -> None:
        """Close pooled connections."""
        self._adapter.close()

    def interrupt(self, threads: Collection[int] | None = None) -> int:
        """Cut connections now, so requests blocked on the network fail at once.

        ``threads``: only the requests these threads sent (a cancelled job's
        parts); None: every connection (the daemon stops). A request cut this
        way fails with a TransportError. Returns how many connections were cut.
        """
        cut = self._adapter.interrupt(threads)
        if cut:
            log.info("cut %d open connection(s) to stop requests in flight", cut)
        return cut

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        json_body: Any = None,
        data: Body | bytes | None = None,
        stream: bool = False,
    ) -> Answer:
        """Send one request through the pooled connections; raises NETWORK_ERRORS.

        Straight to urllib3: requests' request and response objects (URL
        parsing, cookies, hooks, header mappings) were a third of a small
        request's CPU time, and none of it is used here (no cookies, no
        redirects: an answer is final). The adapter still picks the pool, the
        proxy and the TLS settings, which the environment's settings decide.
        """
        pool, request_target = self._route(url)
        if json_body is not None:
            data = json.dumps(json_body, allow_nan=False).encode()
            headers = {**headers, "Content-Type": "application/json"}
        raw = pool.urlopen(
            method,
            request_target,
            body=cast(Any, data),  # urllib3 streams any object with read() in blocks
            headers={**self._headers, **headers},
            redirect=False,
            assert_same_host=False,
            # Read now unless streamed: that hands the connection back to the pool. Unread
            # (a PUT's empty answer), it was dropped, and every part paid a new connection:
            # a TCP and TLS handshake, three round trips away.
            preload_content=not stream,
            decode_content=False,
            retries=self._adapter.max_retries,
            timeout=self._timeout,
            chunked=False,
        )
        return Answer(raw)

    def _route(self, url: str) -> tuple[HTTPConnectionPool, str]:
        """Return the pool for ``url``'s host and the request line's target."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        route = self._routes.get(key)
        if route is None or route[0].pool is None:  # a new host, or its pool was closed
            route = self._routes[key] = self._new_route(url)
        pool, through_proxy = route
        if through_proxy:  # an HTTP proxy is sent the whole URL (as requests' adapter does)
            return pool, urldefragauth(url)
        return pool, _origin_form(parts)

    def _new_route(self, url: str) -> tuple[HTTPConnectionPool, bool]:
        """Ask requests' adapter for ``url``'s pool, with the environment's proxy and CA
        settings (read once per host)."""
        settings = self._environment.merge_environment_settings(url, {}, None, None, None)
        target = requests.PreparedRequest()
        target.url = url  # all the adapter reads of it
        verify = True if settings["verify"] is None else settings["verify"]
        proxies = settings["proxies"]
        pool = self._adapter.get_connection_with_tls_context(
            target, verify, proxies=proxies, cert=settings["cert"]
        )
        assert isinstance(pool, HTTPConnectionPool)
        self._adapter.cert_verify(pool, url, verify, settings["cert"])  # type: ignore[no-untyped-call]
        return pool, self._adapter.request_url(target, proxies) != _origin_form(urlsplit(url))

    def call(self, path: str, params: Mapping[str, Any], token: str | None) -> Any:
        """POST an API call and return its decoded payload; raises a FlowCaptureError."""
        headers = {wire.TOKEN_HEADER: token} if token else {}
        url = self.base_url + path
        try:
            response = self._send("POST", url, headers, json_body=wire.request_body(dict(params)))
        except NETWORK_ERRORS as exc:
            raise transport_error(path, exc) from None
        if response.is_redirect:
            where = redact_url(response.headers.get("Location", "?"))
            raise TransportError(
                f"{path}: the API answered with a redirect to {where}; set flowcapture.url to "
                "the address it names",
                status=response.status_code,
                maybe_sent=False,
            )
        body = _json_or_none(response)
        failure = wire.error_of(body)
        if response.status_code >= 300 or failure is not None:
            code, message = failure or ("", response.reason or "request failed")
            status = response.status_code if response.status_code >= 300 else 400
            raise error_for_status(
                status,
                redact(f"{path}: {message}"),
                code=code or None,
                retry_after=_retry_after(response),
            )
        if body is None:
            raise TransportError(f"{path}: the answer was not JSON (HTTP {response.status_code})")
        return wire.unwrap_response(body)

    def put(self, url: str, body: Body | bytes, length: int, headers: Mapping[str, str]) -> Answer:
        """PUT ``length`` bytes to a presigned URL; return the 2xx response or raise."""
        send_headers = {"Content-Length": str(length), **headers}
        try:
            response = self._send("PUT", url, send_headers, data=body)
        except NETWORK_ERRORS as exc:
            raise transport_error(f"PUT {redact_url(url)}", exc) from None
        if response.status_code >= 300:
            raise object_store_error("PUT", url, response)
        return response

    def get_stream(self, url: str, headers: Mapping[str, str]) -> Answer:
        """GET a URL as a stream; return the 2xx response (caller closes it) or raise."""
        try:
            response = self._send("GET", url, headers, stream=True)
        except NETWORK_ERRORS as exc:
            raise transport_error(f"GET {redact_url(url)}", exc) from None
        if response.status_code >= 300:
            error = object_store_error("GET", url, response)
            response.close()
            raise error
        return response


def _origin_form(parts: SplitResult) -> str:
    """Return the request line's target for a server (not a proxy): path and query."""
    path = parts.path or "/"
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path + (f"?{parts.query}" if parts.query else "")


def iter_body(response: Answer) -> Iterator[bytes]:
    """Yield a streamed response body in chunks; a broken stream raises TransportError."""
    try:
        yield from response.chunks(STREAM_CHUNK_BYTES)
    except NETWORK_ERRORS as exc:
        raise transport_error("download", exc) from None


def transport_error(what: str, exc: BaseException) -> TransportError:
    """Return a TransportError describing ``exc`` briefly and without the URL's secrets."""
    kind = _kind(exc)
    sent = not _never_connected(exc)
    if kind in ("ConnectTimeout", "ReadTimeout"):
        return TransportError(f"{what}: timed out ({kind})", maybe_sent=sent)
    cause = _root_os_error(exc)
    if cause is not None:
        return TransportError(f"{what}: {kind}: {cause}", maybe_sent=sent)
    return TransportError(f"{what}: {kind}: {redact(str(exc))}", maybe_sent=sent)


def _kind(exc: BaseException) -> str:
    """Return the short name of a network failure, as requests would name it."""
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        exc = exc.reason  # no retries are made: the reason is the failure
    if isinstance(exc, requests.RequestException):
        return "ConnectTimeout" if isinstance(exc, requests.ConnectTimeout) else type(exc).__name__
    if isinstance(exc, ConnectTimeoutError) and not isinstance(exc, NewConnectionError):
        return "ConnectTimeout"
    if isinstance(exc, ReadTimeoutError | TimeoutError):
        return "ReadTimeout"
    if isinstance(exc, urllib3_errors.SSLError):
        return "SSLError"
    if isinstance(exc, urllib3_errors.ProxyError):
        return "ProxyError"
    return "ConnectionError"


def _never_connected(exc: BaseException) -> bool:
    """Return True when no connection was made, so the request never reached the server."""
    if isinstance(exc, MaxRetryError) and isinstance(exc.reason, ConnectTimeoutError):
        return True  # a connect that timed out or failed (NewConnectionError is one too)
    if isinstance(exc, requests.ConnectTimeout | ConnectTimeoutError):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError | NewConnectionError):
            return True
        for arg in current.args:  # urllib3 keeps its cause in MaxRetryError.reason
            if isinstance(arg, BaseException) and id(arg) not in seen:
                current = arg
                break
        else:
            current = current.__cause__ or current.__context__
    return False


_OS_ERROR_TEXT_RE = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def _root_os_error(exc: BaseException) -> str | None:
    """Return the operating system's words for what failed (e.g. 'Connection refused')."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        current = current.__cause__ or current.__context__
    match = _OS_ERROR_TEXT_RE.search(str(exc))
    return match.group(1).strip() if match else None


_S3_CODE_RE = re.compile(r"<Code>([^<]*)</Code>")
_S3_MESSAGE_RE = re.compile(r"<Message>([^<]*)</Message>")


def object_store_error(method: str, url: str, response: Answer) -> FlowCaptureError:
    """Return the error for a failed object-store request (S3 answers in XML)."""
    text = response.text[:4096] if response.content else ""
    code_match = _S3_CODE_RE.search(text)
    message_match = _S3_MESSAGE_RE.search(text)
    code = code_match.group(1) if code_match else None
    message = message_match.group(1) if message_match else (response.reason or "failed")
    where = f"{method} {redact_url(url)}"
    if response.status_code == 403 and "expired" in message.lower():
        return PresignedUrlExpiredError(
            f"{where}: presigned URL expired", status=403, code=code or "AccessDenied"
        )
    return error_for_status(
        response.status_code,
        redact(f"{where}: {message}"),
        code=code,
        retry_after=_retry_after(response),
    )


def _json_or_none(response: Answer) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return None


def _retry_after(response: Answer) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_MAX_SECONDS)
    except ValueError:
        return None
