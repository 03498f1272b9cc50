"""/update/asset against both plausible services: metadata merged or replaced.

watchd assumes merge (keys not named are kept). What holds in both modes is
what the daemon relies on: one call sets all of a file's keys and tags, a key
sent as null is cleared, ``tags: []`` clears the tags, text stays text.
"""

from __future__ import annotations

import pytest

from tests.integration.flowcapture.ingested import ingest_one


def listed(client, asset):
    (found,) = [a for a in client.get_assets(asset.folder) if a.id == asset.asset_id]
    return found.extra["metadata"], found.extra["tags"]


@pytest.fixture(params=["merge", "replace"])
def mode(request, emulator):
    emulator.set_faults({"update_asset_metadata": request.param})
    return request.param


def test_one_call_sets_keys_and_tags_with_text_kept_as_text(client, tmp_path, mode):
    asset = ingest_one(client, tmp_path)
    client.update_asset(asset.uuid, tags=["dailies"], metadata={"take": "003", "n": 3})
    assert listed(client, asset) == ({"take": "003", "n": 3}, ["dailies"])


def test_a_key_set_to_none_is_cleared_on_the_service(client, tmp_path, mode):
    asset = ingest_one(client, tmp_path)
    client.update_asset(asset.asset_id, metadata={"scene": "12", "take": "3"})
    client.update_asset(asset.asset_id, metadata={"scene": "12", "take": None})
    assert listed(client, asset)[0] == {"scene": "12"}


def test_an_empty_tag_list_clears_the_tags_and_leaves_metadata_to_the_mode(client, tmp_path, mode):
    asset = ingest_one(client, tmp_path)
    client.update_asset(asset.uuid, tags=["a", "b"], metadata={"scene": "12"})
    client.update_asset(asset.uuid, tags=[])
    metadata, tags = listed(client, asset)
    assert tags == []
    assert metadata == ({"scene": "12"} if mode == "merge" else {})


def test_a_partial_update_keeps_other_keys_only_where_the_service_merges(client, tmp_path, mode):
    asset = ingest_one(client, tmp_path)
    client.update_asset(asset.uuid, metadata={"scene": "12", "camera": "A"})
    client.update_asset(asset.uuid, metadata={"take": "4"})
    expected = {"scene": "12", "camera": "A", "take": "4"} if mode == "merge" else {"take": "4"}
    assert listed(client, asset)[0] == expected


@pytest.mark.parametrize("key", ["id", "tags"])
def test_metadata_keys_that_are_fields_of_the_call_are_refused_before_sending(
    emulator, client, key
):
    with pytest.raises(ValueError, match=key):
        client.update_asset(1, metadata={key: "x"})
    assert "/update/asset" not in emulator.snapshot()["requests"]
