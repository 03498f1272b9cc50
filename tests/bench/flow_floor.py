"""The vendor's upload flow with nothing else: the floor a Python client can reach.

Per file: ``/upload/asset/init``, ``/upload/asset/part`` (its presigned URL),
the PUT with Content-MD5, ``/upload/asset/complete``; one ``/complete/upload``
for the batch at the end. ``--connections`` threads, each with its own kept-alive
``http.client`` connections; no database, no retries, no logging, no tags. The
benchmark runs it as a row of its own beside the peers (it is not one): on a
small-file row its time is what the four calls per file cost on this machine,
against the one PUT an S3 tool needs. Files must fit in one part (16 MiB).

    python -m tests.bench.flow_floor --url URL --email E --folder 'Production/Folder' \
        --batch NAME [--connections 32] FILE...      (the API key in $WATCHD_API_KEY)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PART_LIMIT_BYTES = 16 * 1024 * 1024  # one part per file: the floor is about the per-file flow
TIMEOUT_S = 120.0


class Connections(threading.local):
    """One kept-alive connection per host, per thread."""

    def __init__(self) -> None:
        self.by_host: dict[str, http.client.HTTPConnection] = {}
        self.last_body = b""

    def request(
        self, method: str, url: str, body: bytes, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        """Send one request; return the 2xx answer (its body read), or raise RuntimeError."""
        parts = urlsplit(url)
        connection = self.by_host.get(parts.netloc)
        if connection is None:
            connection = http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT_S)
            self.by_host[parts.netloc] = connection
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        self.last_body = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {parts.path}: HTTP {response.status}: {self.last_body!r}")
        return response


class Flow:
    """The API calls of the flow, over the calling thread's connections."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = ""
        self.connections = Connections()

    def call(self, path: str, params: dict[str, Any]) -> Any:
        """POST an API call (parameters under ``data``); return the decoded answer."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["X-Token"] = self.token
        body = json.dumps({"data": params}).encode()
        self.connections.request("POST", self.base_url + path, body, headers)
        answer = json.loads(self.connections.last_body)
        if isinstance(answer, dict) and set(answer) == {"data"}:
            return answer["data"]
        return answer

    def folder_id(self, path: str) -> int:
        """Return the id of 'Production/Folder' (two listings)."""
        production, folder = path.split("/", 1)
        groups = self.call("/get/groups", {})
        group = next(g["id"] for g in groups if g["name"] == production)
        folders = self.call("/get/projects", {"group_id": group})
        return int(next(f["id"] for f in folders if f["name"] == folder))

    def upload(self, path: Path, project_id: int, batch: str) -> str:
        """Upload one file in one part; return its key."""
        data = path.read_bytes()
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        init = self.call("/upload/asset/init", {"project_id": project_id, "filename": path.name})
        handles = {"upload_id": init["upload_id"], "key": init["key"]}
        part = self.call("/upload/asset/part", {**handles, "part_number": 1, "content_md5": md5})
        headers = {"Content-MD5": md5, "Content-Length": str(len(data))}
        etag = self.connections.request("PUT", part["presigned_url"], data, headers).getheader(
            "ETag"
        )
        params = {"etags": [etag], "filename": path.name, "project_id": project_id}
        self.call("/upload/asset/complete", {**handles, **params, "batch_name": batch})
        return str(init["key"])


def main(argv: list[str] | None = None) -> int:
    """Upload the files; return 0, or 1 with a message when one failed or is too big."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--folder", required=True, help="'Production/Folder'")
    parser.add_argument("--batch", required=True)
    parser.add_argument("--connections", type=int, default=32)  # watchd's default
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    too_big = [f for f in args.files if f.stat().st_size > PART_LIMIT_BYTES]
    if too_big:
        print(f"flow floor: {too_big[0]} is over one part (16 MiB)", file=sys.stderr)
        return 1
    flow = Flow(args.url)
    auth = flow.call(
        "/authenticate/api", {"email": args.email, "api_key": os.environ["WATCHD_API_KEY"]}
    )
    flow.token = auth["token"]
    project_id = flow.folder_id(args.folder)
    with ThreadPoolExecutor(args.connections) as pool:
        keys = list(pool.map(lambda f: flow.upload(f, project_id, args.batch), args.files))
    flow.call(
        "/complete/upload", {"project_id": project_id, "batch_name": args.batch, "keys": keys}
    )
    print(f"flow floor: {len(keys)} files uploaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
