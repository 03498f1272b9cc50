import hashlib

import pytest
import xxhash

from watchd.base.stop import Stopped, StopToken
from watchd.custody.hashing import READ_CHUNK_BYTES, c4_id, cheapest, hash_bytes, hash_file


def test_a_file_is_hashed_in_every_format_in_one_pass(tmp_path):
    data = bytes(range(256)) * 40_000 + b"tail"  # crosses several read chunks
    assert len(data) > 2 * READ_CHUNK_BYTES
    path = tmp_path / "clip.mov"
    path.write_bytes(data)
    got = hash_file(path, ["xxh64", "md5", "sha1", "xxh3", "xxh128"])
    assert got == {
        "xxh64": xxhash.xxh64(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
        "sha1": hashlib.sha1(data).hexdigest(),
        "xxh3": xxhash.xxh3_64(data).hexdigest(),
        "xxh128": xxhash.xxh3_128(data).hexdigest(),
    }


def test_c4_is_sha512_in_base58_padded_to_90_characters():
    # The C4 id of the empty string, as the C4 specification and ASC MHL give it.
    assert hash_bytes(b"", "c4") == (
        "c459dsjfscH38cYeXXYogktxf4Cd9ibshE3BHUo6a58hBXmRQdZrAkZzsWcbWtDg5oQstpDuni4Hirj75GEmTc1sFT"
    )
    assert c4_id(bytes(64)) == "c4" + "1" * 88


def test_the_cheapest_recorded_format_is_the_one_checked():
    assert cheapest(["md5", "xxh64"]) == "xxh64"
    assert cheapest(["c4", "md5"]) == "md5"
    assert cheapest(["xxh128", "xxh64", "xxh3"]) == "xxh3"
    assert cheapest(["crc32"]) is None


def test_an_unknown_format_is_named_in_the_error(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown hash format 'crc32'"):
        hash_file(tmp_path / "f", ["crc32"])


def test_a_stop_is_seen_between_reads(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 10)
    stop = StopToken()
    stop.stop("shutdown")
    with pytest.raises(Stopped):
        hash_file(tmp_path / "f", ["xxh64"], stop)
