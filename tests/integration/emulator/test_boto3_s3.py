"""The S3 port speaks enough S3 for boto3 (with its aws-chunked bodies and
trailing checksums, Expect: 100-continue and multipart transfers)."""

from __future__ import annotations

import os

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MiB = 1024 * 1024


@pytest.fixture
def s3(emu):
    client = boto3.client(
        "s3",
        endpoint_url=emu.s3_url,
        aws_access_key_id="dummy",
        aws_secret_access_key="dummy",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    yield client
    client.close()


def test_put_get_head_and_list(s3):
    s3.create_bucket(Bucket="media")
    put = s3.put_object(Bucket="media", Key="day1/a.mov", Body=b"alpha")
    assert put["ETag"] == '"2c1743a391305fbf367df8e4f069f9f9"'
    s3.put_object(Bucket="media", Key="day1/b.mov", Body=b"beta" * 1000)
    s3.put_object(Bucket="media", Key="day2/c.mov", Body=b"")
    assert s3.get_object(Bucket="media", Key="day1/a.mov")["Body"].read() == b"alpha"
    ranged = s3.get_object(Bucket="media", Key="day1/b.mov", Range="bytes=4-7")
    assert ranged["Body"].read() == b"beta"
    assert s3.head_object(Bucket="media", Key="day1/b.mov")["ContentLength"] == 4000
    listed = s3.list_objects_v2(Bucket="media", Prefix="day1/")
    assert [o["Key"] for o in listed["Contents"]] == ["day1/a.mov", "day1/b.mov"]
    folders = s3.list_objects_v2(Bucket="media", Delimiter="/")
    assert [p["Prefix"] for p in folders["CommonPrefixes"]] == ["day1/", "day2/"]
    s3.delete_object(Bucket="media", Key="day1/a.mov")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="media", Key="day1/a.mov")


def test_upload_file_uses_multipart_and_reads_back_identical(s3, tmp_path):
    data = os.urandom(12 * MiB + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    config = TransferConfig(
        multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3
    )
    s3.upload_file(str(source), "media", "big.bin", Config=config)
    head = s3.head_object(Bucket="media", Key="big.bin")
    assert head["ETag"].endswith('-3"')
    target = tmp_path / "back.bin"
    s3.download_file("media", "big.bin", str(target))
    assert target.read_bytes() == data


def test_low_level_multipart_with_list_parts_and_abort(s3):
    upload = s3.create_multipart_upload(Bucket="media", Key="m.bin")
    upload_id = upload["UploadId"]
    part = s3.upload_part(
        Bucket="media", Key="m.bin", UploadId=upload_id, PartNumber=1, Body=b"x" * 10
    )
    parts = s3.list_parts(Bucket="media", Key="m.bin", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, part["ETag"], 10)]
    s3.abort_multipart_upload(Bucket="media", Key="m.bin", UploadId=upload_id)
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.list_parts(Bucket="media", Key="m.bin", UploadId=upload_id)


def test_objects_uploaded_through_the_api_are_visible_over_s3(s3, api, token):
    done = api.upload(token, b"shared store")
    body = s3.get_object(Bucket="flowcapture-ingest", Key=done["key"])["Body"].read()
    assert body == b"shared store"
