import errno
import os

import pytest

from watchd.base.fileversion import Fingerprint
from watchd.ingest import post_upload
from watchd.ingest.post_upload import delete_source, move_source, source_unchanged


def make(path, data=b"media"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_move_keeps_the_relative_path(tmp_path):
    source = make(tmp_path / "drop" / "Day 01" / "A001.mov")
    moved = move_source(source, tmp_path / "archive", "Day 01/A001.mov")
    assert moved == tmp_path / "archive" / "Day 01" / "A001.mov"
    assert moved.read_bytes() == b"media"
    assert not source.exists()


def test_a_name_clash_gets_a_suffix_and_never_overwrites(tmp_path):
    make(tmp_path / "archive" / "A001.mov", b"older take")
    source = make(tmp_path / "drop" / "A001.mov", b"new take")
    moved = move_source(source, tmp_path / "archive", "A001.mov")
    assert moved.name == "A001_1.mov"
    assert (tmp_path / "archive" / "A001.mov").read_bytes() == b"older take"
    assert moved.read_bytes() == b"new take"


def test_a_move_interrupted_after_linking_is_finished_without_a_duplicate(tmp_path):
    source = make(tmp_path / "drop" / "A001.mov")
    archive = tmp_path / "archive"
    archive.mkdir()
    os.link(source, archive / "A001.mov")  # the crash came before the source was removed
    moved = move_source(source, archive, "A001.mov")
    assert moved == archive / "A001.mov"
    assert sorted(p.name for p in archive.iterdir()) == ["A001.mov"]
    assert not source.exists()


@pytest.fixture
def cross_device(monkeypatch):
    """Make hard links fail as they do between filesystems (EXDEV)."""

    def refuse(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    real_link = os.link
    calls = []

    def link(src, dst):
        calls.append((src, dst))
        if ".watchd-moving-" in str(src):
            return real_link(src, dst)  # the temp copy sits on the target filesystem
        return refuse(src, dst)

    monkeypatch.setattr(os, "link", link)
    return calls


def test_a_move_across_filesystems_copies_checks_then_removes(tmp_path, cross_device):
    data = os.urandom(100_000)
    source = make(tmp_path / "drop" / "B.mov", data)
    moved = move_source(source, tmp_path / "archive", "B.mov")
    assert moved.read_bytes() == data
    assert not source.exists()
    assert not list((tmp_path / "archive").glob(".watchd-moving-*"))


def test_a_bad_copy_keeps_the_source(tmp_path, cross_device, monkeypatch):
    source = make(tmp_path / "drop" / "C.mov", b"precious")
    monkeypatch.setattr(post_upload, "_md5_of", lambda path: "not-the-same")
    with pytest.raises(post_upload.PostUploadError):
        move_source(source, tmp_path / "archive", "C.mov")
    assert source.read_bytes() == b"precious"


def test_a_changed_source_is_detected(tmp_path):
    source = make(tmp_path / "D.mov", b"v1")
    fingerprint = Fingerprint.of(source.stat())
    assert source_unchanged(source, fingerprint)
    source.write_bytes(b"version 2")
    assert not source_unchanged(source, fingerprint)
    delete_source(source)
    assert not source_unchanged(source, fingerprint)
