import pytest

from watchd.watch.filters import PathFilter, is_junk_name


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.mov",
        "._A001.mov",
        ".DS_Store",
        "Thumbs.db",
        "desktop.ini",
        ".fcpcache",
        "clip.mov.part",
        "clip.partial",
        "render.TMP",
        "upload.filepart",
        "page.aspx",
    ],
)
def test_junk_is_never_wanted(name):
    assert is_junk_name(name)
    assert not PathFilter().wants_file(name)


def test_media_names_are_not_junk():
    assert not is_junk_name("A001_C002_0101AB.mov")
    assert PathFilter().wants_file("A001_C002_0101AB.mov")


def test_files_inside_hidden_or_cache_folders_are_ignored():
    filt = PathFilter()
    assert not filt.wants_file(".Trashes/clip.mov")
    assert not filt.wants_file("project/.fcpcache/clip.mov")
    assert not filt.wants_dir("a/.git")
    assert filt.wants_dir("Day 01/A001")


def test_include_globs_match_names_case_insensitively():
    filt = PathFilter(include=["*.mov", "*.mxf"])
    assert filt.wants_file("A001.MOV")
    assert filt.wants_file("sub/b.mxf")
    assert not filt.wants_file("notes.txt")


def test_exclude_wins_over_include():
    filt = PathFilter(include=["*.mov"], exclude=["*_tmp*"])
    assert not filt.wants_file("A001_tmp_render.mov")
    assert filt.wants_file("A001.mov")


def test_a_glob_with_a_slash_matches_the_relative_path():
    filt = PathFilter(exclude=["proxies/*"])
    assert not filt.wants_file("proxies/a.mov")
    assert filt.wants_file("camera/a.mov")
