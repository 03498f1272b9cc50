"""S3 XML documents: errors, multipart responses, listings, and parsing the
CompleteMultipartUpload request body."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from watchd.emulator.errors import EmulatorError
from watchd.emulator.objects import MultipartUpload, ObjectInfo

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
_PROLOG = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _document(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return _PROLOG + body


def _root(tag: str) -> ET.Element:
    return ET.Element(tag, {"xmlns": S3_NS})


def _add(parent: ET.Element, tag: str, text: object) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = str(text)
    return child


def iso(ts: float) -> str:
    """Return an S3-style timestamp."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def quoted(etag: str) -> str:
    """Return an ETag in the double quotes S3 puts around it."""
    return f'"{etag}"'


def error(code: str, message: str, resource: str, request_id: str) -> bytes:
    """Return an S3 error document (no namespace, like real S3)."""
    root = ET.Element("Error")
    _add(root, "Code", code)
    _add(root, "Message", message)
    _add(root, "Resource", resource)
    _add(root, "RequestId", request_id)
    return _document(root)


def initiated(bucket: str, key: str, upload_id: str) -> bytes:
    """Return the InitiateMultipartUploadResult document."""
    root = _root("InitiateMultipartUploadResult")
    _add(root, "Bucket", bucket)
    _add(root, "Key", key)
    _add(root, "UploadId", upload_id)
    return _document(root)


def completed(location: str, info: ObjectInfo) -> bytes:
    """Return the CompleteMultipartUploadResult document."""
    root = _root("CompleteMultipartUploadResult")
    _add(root, "Location", location)
    _add(root, "Bucket", info.bucket)
    _add(root, "Key", info.key)
    _add(root, "ETag", quoted(info.etag))
    return _document(root)


def parts_list(upload: MultipartUpload) -> bytes:
    """Return the ListPartsResult document (all parts, one page)."""
    root = _root("ListPartsResult")
    _add(root, "Bucket", upload.bucket)
    _add(root, "Key", upload.key)
    _add(root, "UploadId", upload.upload_id)
    _add(root, "PartNumberMarker", 0)
    numbers = sorted(upload.parts)
    _add(root, "NextPartNumberMarker", numbers[-1] if numbers else 0)
    _add(root, "MaxParts", 10000)
    _add(root, "IsTruncated", "false")
    for number in numbers:
        part = upload.parts[number]
        item = ET.SubElement(root, "Part")
        _add(item, "PartNumber", number)
        _add(item, "LastModified", iso(part.modified))
        _add(item, "ETag", quoted(part.etag))
        _add(item, "Size", part.size)
    return _document(root)


def objects_list(
    bucket: str,
    prefix: str,
    objects: Iterable[ObjectInfo],
    prefixes: Iterable[str],
    max_keys: int,
    next_token: str | None,
    delimiter: str | None,
) -> bytes:
    """Return a ListBucketResult (ListObjectsV2) document."""
    root = _root("ListBucketResult")
    _add(root, "Name", bucket)
    _add(root, "Prefix", prefix)
    if delimiter:
        _add(root, "Delimiter", delimiter)
    _add(root, "MaxKeys", max_keys)
    contents = list(objects)
    common = list(prefixes)
    _add(root, "KeyCount", len(contents) + len(common))
    _add(root, "IsTruncated", "true" if next_token else "false")
    if next_token:
        _add(root, "NextContinuationToken", next_token)
    for info in contents:
        item = ET.SubElement(root, "Contents")
        _add(item, "Key", info.key)
        _add(item, "LastModified", iso(info.modified))
        _add(item, "ETag", quoted(info.etag))
        _add(item, "Size", info.size)
        _add(item, "StorageClass", "STANDARD")
    for common_prefix in common:
        _add(ET.SubElement(root, "CommonPrefixes"), "Prefix", common_prefix)
    return _document(root)


def buckets_list(names: Iterable[str], created: float) -> bytes:
    """Return a ListAllMyBucketsResult document."""
    root = _root("ListAllMyBucketsResult")
    owner = ET.SubElement(root, "Owner")
    _add(owner, "ID", "emulator")
    _add(owner, "DisplayName", "emulator")
    buckets = ET.SubElement(root, "Buckets")
    for name in names:
        bucket = ET.SubElement(buckets, "Bucket")
        _add(bucket, "Name", name)
        _add(bucket, "CreationDate", iso(created))
    return _document(root)


def parse_complete(body: bytes) -> list[tuple[int, str]]:
    """Return ``(part_number, etag)`` pairs from a CompleteMultipartUpload body.

    Raises:
        EmulatorError: 400 MalformedXML.
    """
    try:
        root = ET.fromstring(body)  # noqa: S314 - local clients; expat refuses external entities
        parts = []
        for part in root.iter():
            if part.tag.rsplit("}", 1)[-1] != "Part":
                continue
            fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in part}
            parts.append((int(fields["PartNumber"]), fields["ETag"]))
    except (ET.ParseError, KeyError, ValueError):
        raise EmulatorError(
            400, "MalformedXML", "The XML you provided was not well-formed"
        ) from None
    return parts
