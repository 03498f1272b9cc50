"""Facts about Flow Capture and its object store that several layers obey.

The configuration checks them when it is read; the upload code plans parts by
them. They are the service's rules, not our tunables.
"""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.moxion.io"  # the public API's address

MIB = 1024 * 1024
MIN_PART_BYTES = 5 * MIB  # S3: every part but the last is at least 5 MiB
MAX_PART_BYTES = 5 * 1024 * MIB  # S3: a part is at most 5 GiB
MAX_PARTS = 10_000  # S3 and the vendor document: part numbers 1..10,000
PRESIGNED_URL_SECONDS = 300  # the vendor document: a part's URL is valid for five minutes
