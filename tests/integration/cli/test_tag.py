"""`watchd tag` against the emulator, with metadata merged (default) or replaced."""

from __future__ import annotations

import pytest

from tests.integration.conftest import folder_id


def listed(client, asset_id):
    (found,) = [a for a in client.get_assets(folder_id(client, "Dailies")) if a.id == asset_id]
    return found.extra["metadata"], found.extra["tags"]


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_tag_sets_text_json_values_and_clears_keys_and_tags(cli, uploaded, emulator, client, mode):
    emulator.set_faults({"update_asset_metadata": mode})
    asset_id, ident, _ = uploaded
    code, out, _ = cli("tag", ident, "take=003", "scene=12", "--json-value", "n=3", "--tags", "a,b")
    assert (code, out.strip()) == (0, f"asset {ident} updated")
    assert listed(client, asset_id) == ({"take": "003", "scene": "12", "n": 3}, ["a", "b"])

    assert cli("tag", str(asset_id), "take=", "scene=12", "n=3", "--tags", "")[0] == 0
    assert listed(client, asset_id) == ({"scene": "12", "n": "3"}, [])


@pytest.mark.parametrize("mode", ["merge", "replace"])
def test_clear_tags_alone_clears_the_tags(cli, uploaded, emulator, client, mode):
    emulator.set_faults({"update_asset_metadata": mode})
    asset_id = uploaded[0]
    assert cli("tag", str(asset_id), "scene=1", "--tags", "x")[0] == 0
    row = cli.json("tag", str(asset_id), "--clear-tags")
    assert row["tags"] == [] and row["metadata"] == {}
    metadata, tags = listed(client, asset_id)
    assert tags == []
    assert metadata == ({"scene": "1"} if mode == "merge" else {})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["id=7"], "'id' cannot be a metadata key"),
        (["tags=a"], "use --tags or --clear-tags"),
        ([], "nothing to set"),
    ],
)
def test_refused_arguments_send_nothing(cli, uploaded, emulator, args, message):
    before = emulator.snapshot()["requests"].get("/update/asset", 0)
    code, out, err = cli("tag", str(uploaded[0]), *args)
    assert code == 1
    assert out == ""
    assert message in err
    assert emulator.snapshot()["requests"].get("/update/asset", 0) == before
