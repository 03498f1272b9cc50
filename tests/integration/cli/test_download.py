import pytest


def test_without_a_category_the_categories_are_listed(cli, uploaded):
    code, out, _ = cli("download", str(uploaded[0]))
    assert code == 0
    assert "ORIGINAL" in out and "--category" in out


def test_the_original_downloads_byte_identical_by_uuid(cli, uploaded, tmp_path):
    _, ident, data = uploaded
    rows = cli.json("download", ident, "--category", "ORIGINAL", "--dest", str(tmp_path / "out"))
    (row,) = rows
    assert row["size"] == len(data)
    assert (tmp_path / "out" / "A001_012_003.mov").read_bytes() == data
    assert not list((tmp_path / "out").glob("*.part"))


def test_an_interrupted_download_resumes(cli, uploaded, emulator, tmp_path):
    emulator.set_faults({"rules": [{"endpoint": "s3:GET", "reset": True, "count": 1}]})
    back = tmp_path / "back"  # (tmp_path holds the uploaded source, which is not replaced)
    code, out, _ = cli("download", str(uploaded[0]), "--category", "ORIGINAL", "--dest", str(back))
    assert code == 0, out
    assert (back / "A001_012_003.mov").read_bytes() == uploaded[2]
    assert emulator.snapshot()["requests"]["s3:GET"] == 2


def test_a_category_is_named_in_any_case_and_an_unknown_one_lists_those_there_are(
    cli, uploaded, tmp_path
):
    back = tmp_path / "back"
    rows = cli.json("download", str(uploaded[0]), "--category", "original", "--dest", str(back))
    assert [r["category"] for r in rows] == ["ORIGINAL"]
    assert (back / "A001_012_003.mov").read_bytes() == uploaded[2]
    code, _, err = cli("download", str(uploaded[0]), "--category", "4k", "--dest", str(tmp_path))
    assert code == 1
    assert f"asset {uploaded[0]} 4k: no category '4k' (it has ORIGINAL, 1080p, 480p)" in err


def test_a_proxy_waits_for_processing(cli, uploaded, tmp_path):
    rows = cli.json("download", str(uploaded[0]), "--category", "1080p", "--dest", str(tmp_path))
    assert rows[0]["size"] > 0


def test_per_asset_errors_do_not_stop_the_others(cli, uploaded, tmp_path):
    back = tmp_path / "back"
    code, _, err = cli(
        "download", "987654", str(uploaded[0]), "--category", "ORIGINAL", "--dest", str(back)
    )
    assert code == 1
    assert "asset 987654" in err
    assert (back / "A001_012_003.mov").read_bytes() == uploaded[2]


def test_several_categories_and_every_file_of_a_multi_file_original(
    cli, uploaded, emulator, tmp_path
):
    emulator.set_faults({"original_files": "with_sidecar"})
    rows = cli.json(
        "download", str(uploaded[0]), "--category", "ORIGINAL", "--category", "480p",
        "--dest", str(tmp_path),
    )  # fmt: skip
    assert [r["category"] for r in rows] == ["ORIGINAL", "480p"]
    original, proxy = rows
    assert [f["path"] for f in original["files"]] == [
        str(tmp_path / "A001_012_003" / "A001_012_003.mov"),
        str(tmp_path / "A001_012_003" / "A001_012_003.xml"),
    ]
    assert (tmp_path / "A001_012_003" / "A001_012_003.mov").read_bytes() == uploaded[2]
    assert proxy["path"] == str(tmp_path / "A001_012_003_480p.mp4")


@pytest.mark.parametrize("mode", ["one", "with_sidecar"])
def test_category_all_fetches_every_category(cli, uploaded, emulator, tmp_path, mode):
    emulator.set_faults({"original_files": mode})
    code, out, _ = cli(
        "download", str(uploaded[0]), "--category", "all", "--dest", str(tmp_path / "out")
    )
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file())
    expected = ["A001_012_003.mov", "A001_012_003_1080p.mp4", "A001_012_003_480p.mp4"]
    if mode == "with_sidecar":
        expected = sorted([*expected, "A001_012_003.xml"])
    assert names == expected
    assert len(out.splitlines()) == len(expected)


def test_a_playlink_lists_its_categories(cli, uploaded, emulator):
    link = emulator.add_playlink([uploaded[0]])
    code, out, _ = cli("download", "--playlink", str(link))
    assert code == 0
    assert "ORIGINAL" in out and "1080p" in out
    assert cli.json("download", "--playlink", str(link))["file_category"][0] == "ORIGINAL"
    code, _, err = cli("download", "--playlink", "999")
    assert code == 1 and "playlink 999" in err
    code, _, err = cli("download", "--playlink", str(link), "--category", "ORIGINAL")
    assert code == 1 and "only lists" in err


def test_a_file_already_in_dest_is_not_replaced_and_the_other_categories_go_on(
    cli, uploaded, tmp_path
):
    source = tmp_path / "A001_012_003.mov"  # the uploaded file itself, where it was
    code, out, err = cli("download", str(uploaded[0]), "--category", "all", "--dest", str(tmp_path))
    assert code == 1
    assert f"ORIGINAL: {source} already there: not replaced (--overwrite replaces it" in err
    assert source.read_bytes() == uploaded[2]
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == [
        "A001_012_003_1080p.mp4",
        "A001_012_003_480p.mp4",
    ]
    assert str(source) not in out
