"""Presigned URLs for the S3 port: issued by the API, checked by the S3 handler.

A signature is an HMAC-SHA256, keyed by a per-process secret, over the method,
the decoded path, the sorted query parameters and (for part uploads) the
Content-MD5 the URL was issued for, so a URL only accepts that exact part.
URLs carrying an AWS SDK's own ``X-Amz-Credential`` are not ours and are
accepted unverified, like ``Authorization`` headers (boto3 signs with dummy keys).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable
from urllib.parse import quote, urlencode

from watchd.emulator.errors import EmulatorError

CREDENTIAL_PREFIX = "flowcapture-emulator/"
SIGNATURE_PARAM = "X-Amz-Signature"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_MAX_REMEMBERED_URLS = 200_000  # issued-URL memory is pruned of expired entries beyond this


class Signer:
    """Issues and verifies presigned URLs."""

    def __init__(self, secret: bytes | None = None, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret or os.urandom(32)
        self._clock = clock
        self._lock = threading.Lock()
        self._issued: dict[str, tuple[str, float]] = {}  # signature -> (content_md5, expiry)

    def presign(
        self,
        method: str,
        base_url: str,
        bucket: str,
        key: str,
        params: dict[str, str],
        lifetime_s: float,
        content_md5: str | None = None,
    ) -> str:
        """Return a URL on ``base_url`` valid for ``lifetime_s`` seconds."""
        now = self._clock()
        date = time.strftime(_DATE_FORMAT, time.gmtime(now))
        query = dict(params)
        query.update(
            {
                "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
                "X-Amz-Credential": f"{CREDENTIAL_PREFIX}{date[:8]}/us-east-1/s3/aws4_request",
                "X-Amz-Date": date,
                "X-Amz-Expires": str(max(0, round(lifetime_s))),
                "X-Amz-SignedHeaders": "content-md5;host" if content_md5 else "host",
            }
        )
        path = f"/{bucket}/{key}"
        signature = self._sign(method, path, list(query.items()), content_md5 or "")
        with self._lock:
            if len(self._issued) >= _MAX_REMEMBERED_URLS:
                self._issued = {s: v for s, v in self._issued.items() if v[1] > now}
            self._issued[signature] = (content_md5 or "", now + lifetime_s + 1)
        query[SIGNATURE_PARAM] = signature
        return f"{base_url}{quote(path)}?{urlencode(query)}"

    def _sign(self, method: str, path: str, query: list[tuple[str, str]], md5: str) -> str:
        method = "GET" if method == "HEAD" else method
        pairs = sorted((k, v) for k, v in query if k != SIGNATURE_PARAM)
        canonical = "\n".join([method, path, urlencode(pairs), md5])
        return hmac.new(self._secret, canonical.encode(), hashlib.sha256).hexdigest()

    def verify(
        self, method: str, path: str, query: list[tuple[str, str]], content_md5: str | None
    ) -> bool:
        """Check a presigned request; ``path`` and ``query`` are already decoded.

        Returns True if the request was presigned by us, False if it carries no
        signature of ours (the caller then requires an SDK signature instead).

        Raises:
            EmulatorError: 403 SignatureDoesNotMatch (a changed URL, or a
                Content-MD5 header missing or other than the signed one) or
                AccessDenied (expired). A body that does not match its
                Content-MD5 is 400 BadDigest later, when the body is read.
        """
        params = dict(query)
        given = params.get(SIGNATURE_PARAM)
        if given is None or not params.get("X-Amz-Credential", "").startswith(CREDENTIAL_PREFIX):
            return False
        expected = self._sign(method, path, query, content_md5 or "")
        if not hmac.compare_digest(expected, given):
            self._explain_mismatch(method, path, query, given, content_md5)
        self._check_expiry(params)
        return True

    def _explain_mismatch(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        given: str,
        content_md5: str | None,
    ) -> None:
        """Raise 403 SignatureDoesNotMatch, as S3 does for any change to what was signed.

        A Content-MD5 header missing or other than the one signed into the URL is
        such a change (S3 checks the signature before it reads the body); the
        message says so, to help whoever reads the emulator's answer.
        """
        with self._lock:
            issued = self._issued.get(given)
        detail = ""
        if issued is not None and issued[0]:
            intact = self._sign(method, path, query, issued[0])
            if hmac.compare_digest(intact, given):
                detail = (
                    " (no Content-MD5 header, but one was signed)"
                    if not content_md5
                    else " (the Content-MD5 header differs from the signed one)"
                )
        raise EmulatorError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided."
            + detail,
        )

    def _check_expiry(self, params: dict[str, str]) -> None:
        try:
            issued = calendar.timegm(time.strptime(params["X-Amz-Date"], _DATE_FORMAT))
            lifetime = int(params["X-Amz-Expires"])
        except (KeyError, ValueError):
            raise EmulatorError(
                400, "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires invalid"
            ) from None
        if self._clock() > issued + lifetime:
            raise EmulatorError(403, "AccessDenied", "Request has expired")
