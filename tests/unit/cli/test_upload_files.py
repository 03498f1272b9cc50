"""Which files `watchd upload` takes from the files and folders it is given."""

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from watchd.cli.upload_files import UploadSourceError, collect, describe, human_size


def write(path, size=10):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


@pytest.fixture
def card(tmp_path):
    """A camera card copy with clips, sidecars, an ASC MHL folder and OS junk."""
    root = tmp_path / "A001"
    write(root / "CLIPS" / "C0001.MXF", 1000)
    write(root / "CLIPS" / "C0002.MXF", 2000)
    write(root / "CLIPS" / "C0001.XML", 30)
    write(root / "ascmhl" / "0001_A001_2024-05-01.mhl")
    write(root / "ASCMHL" / "ascmhl_chain.xml")
    write(root / ".Trashes" / "501" / "old.MXF")
    write(root / ".DS_Store")
    write(root / "CLIPS" / "._C0001.MXF")
    write(root / "CLIPS" / "C0003.MXF.part")
    return root


def test_a_folder_is_uploaded_as_its_tree_without_junk_hidden_files_or_ascmhl(card):
    sources = collect([card], [], [])
    assert [f.relpath for f in sources.files] == [
        "A001/CLIPS/C0001.MXF",
        "A001/CLIPS/C0001.XML",
        "A001/CLIPS/C0002.MXF",
    ]
    assert all(f.path.is_absolute() and f.path.is_file() for f in sources.files)
    assert sources.total_bytes == 3030
    assert sources.skipped == 3  # .DS_Store, the resource fork, the partial file


def test_include_and_exclude_globs_apply_to_names_and_to_paths_below_the_folder(card):
    only_mxf = collect([card], ["*.mxf"], [])
    assert [f.relpath for f in only_mxf.files] == ["A001/CLIPS/C0001.MXF", "A001/CLIPS/C0002.MXF"]
    assert only_mxf.skipped == 4
    assert describe(only_mxf).endswith(
        "(4 left out: hidden, junk or special files, or not matching --include/--exclude)"
    )
    no_first = collect([card], [], ["clips/c0001.*"])
    assert [f.relpath for f in no_first.files] == ["A001/CLIPS/C0002.MXF"]


def test_a_file_named_outright_is_sent_whatever_the_filters_say(card):
    sidecar = card / "CLIPS" / "C0001.XML"
    sources = collect([sidecar], ["*.mxf"], ["*.xml"])
    assert [(f.relpath, f.size) for f in sources.files] == [("C0001.XML", 30)]


def test_a_file_named_and_inside_a_named_folder_goes_once(card):
    clip = card / "CLIPS" / "C0001.MXF"
    sources = collect([card, clip], [], [])
    assert [f.path for f in sources.files].count(clip) == 1
    assert len(sources.files) == 3


def test_a_missing_path_or_an_empty_tree_is_a_clear_error(tmp_path, card):
    with pytest.raises(UploadSourceError, match=r"nope\.mov is not a file or folder"):
        collect([tmp_path / "nope.mov"], [], [])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UploadSourceError, match=r"empty has no files to upload$"):
        collect([tmp_path / "empty"], [], [])
    with pytest.raises(UploadSourceError, match=r"has no files to upload \(6 left out"):
        collect([card], ["*.mov"], [])


NOBODY = 65534  # the user an unprivileged check runs as


def _as_nobody(work: Callable[[], str]) -> str:
    """Return what ``work`` returns when run by an unprivileged user (nobody, as root)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: give up root, run, report, leave
        os.close(read_end)
        try:
            if os.geteuid() == 0:
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            said = work()
        except BaseException as exc:
            said = f"{type(exc).__name__}: {exc}"
        os.write(write_end, said.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        said = reader.read().decode()
    os.waitpid(pid, 0)
    return said


def test_an_unreadable_folder_stops_before_anything_is_sent(card):
    # Root reads every folder, so the check runs as nobody, on a copy it can reach.
    shared = Path(tempfile.mkdtemp(prefix="watchd-unreadable-"))
    try:
        shared.chmod(0o755)
        copy = Path(shutil.copytree(card, shared / "card"))
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (copy / "CLIPS").chmod(0)

        def attempt() -> str:
            collect([copy], [], [])
            return "collected"

        said = _as_nobody(attempt)
        assert said.startswith("UploadSourceError"), said
        assert re.search(r"cannot read the folder .*CLIPS", said), said
    finally:
        (shared / "card" / "CLIPS").chmod(0o755)
        shutil.rmtree(shared)


def test_the_line_before_the_upload_counts_files_and_bytes(card):
    assert (
        describe(collect([card], [], []))
        == "3 files, 3.0 kB (3 left out: hidden, junk or special files)"
    )
    assert describe(collect([card / "CLIPS" / "C0002.MXF"], [], [])) == "1 file, 2.0 kB"
    assert [human_size(n) for n in (1, 999, 1500, 2_500_000, 7 * 10**12)] == [
        "1 byte",
        "999 bytes",
        "1.5 kB",
        "2.5 MB",
        "7.0 TB",
    ]
