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
    code, out, _ = cli(
        "download", str(uploaded[0]), "--category", "ORIGINAL", "--dest", str(tmp_path)
    )
    assert code == 0, out
    assert (tmp_path / "A001_012_003.mov").read_bytes() == uploaded[2]
    assert emulator.snapshot()["requests"]["s3:GET"] == 2


def test_a_proxy_waits_for_processing(cli, uploaded, tmp_path):
    rows = cli.json("download", str(uploaded[0]), "--category", "1080p", "--dest", str(tmp_path))
    assert rows[0]["size"] > 0


def test_per_asset_errors_do_not_stop_the_others(cli, uploaded, tmp_path):
    code, _, err = cli(
        "download", "987654", str(uploaded[0]), "--category", "ORIGINAL", "--dest", str(tmp_path)
    )
    assert code == 1
    assert "asset 987654" in err
    assert (tmp_path / "A001_012_003.mov").exists()
