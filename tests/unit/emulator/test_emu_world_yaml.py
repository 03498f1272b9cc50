"""The world YAML loader: ids, permissions, and errors naming file and key."""

from __future__ import annotations

import pytest

from watchd.emulator import WorldError, demo_world, load_world
from watchd.emulator.world_yaml import parse_world

WORLD = """
users:
  - {email: Ed@Example.com, api_key: k1, first_name: Ed, last_name: Itor}
productions:
  - name: Show
    folders:
      - name: Dailies
        folders: [{name: "Day 01"}, {name: "Day 02", id: 5000}]
      - {name: Editorial}
  - {name: Other, id: 100}
permissions:
  ed@example.com:
    - {folder: "Show/Dailies", access: upload}
    - {folder: "Show/Editorial", access: view, non_watermarked: true}
"""


def test_ids_are_generated_in_order_skipping_explicit_ones():
    world = parse_world(WORLD, "w.yaml")
    assert {p.name: p.id for p in world.productions.values()} == {"Show": 101, "Other": 100}
    assert {f.path: f.id for f in world.folders.values()} == {
        "Show/Dailies": 1000,
        "Show/Dailies/Day 01": 1001,
        "Show/Dailies/Day 02": 5000,
        "Show/Editorial": 1002,
    }
    assert world.folders[1001].parent_id == 1000


def test_folder_grants_cover_subfolders_and_upload_implies_view():
    world = parse_world(WORLD, "w.yaml")
    assert world.can_upload("ed@example.com", 5000)
    assert world.can_view("ed@example.com", 1002)
    assert not world.can_upload("ed@example.com", 1002)
    assert world.can_download_non_watermarked("ed@example.com", 1002)
    assert not world.can_download_non_watermarked("ed@example.com", 1000)
    assert [p.name for p in world.visible_productions("ed@example.com")] == ["Show"]
    assert world.authenticate("ED@example.com", "k1") is not None
    assert world.authenticate("ed@example.com", "k2") is None


def test_the_demo_world_matches_its_documentation():
    world = demo_world()
    assert world.authenticate("demo@example.com", "demo-api-key") is not None
    assert world.authenticate("viewer@example.com", "viewer-api-key") is not None
    assert [f.path for f in world.visible_folders("demo@example.com")] == [
        "Demo Production/Dailies",
        "Demo Production/Dailies/Day 01",
    ]
    assert not world.can_view("demo@example.com", 1002)
    assert world.can_view("viewer@example.com", 1000)
    assert not world.can_upload("viewer@example.com", 1000)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("users: [{email: a@b}]", "users[0].api_key"),
        ("productions: [{name: P, folders: [{id: x, name: F}]}]", "productions[0].folders[0].id"),
        (
            "users: [{email: a@b, api_key: k}]\npermissions: {a@b: [{production: Nope}]}",
            "permissions.a@b[0].production",
        ),
        (
            "users: [{email: a@b, api_key: k}]\npermissions: {a@b: [{folder: X/Y, access: admin}]}",
            "permissions.a@b[0].access",
        ),
        ("permissions: {ghost@b: []}", "permissions.ghost@b"),
        ("extra: 1", "extra"),
        ("users: [a, b", "invalid YAML"),
    ],
)
def test_errors_name_the_file_and_key(text, where):
    with pytest.raises(WorldError, match=rf"^w\.yaml: .*{__import__('re').escape(where)}"):
        parse_world(text, "w.yaml")


def test_an_unreadable_file_is_a_world_error(tmp_path):
    with pytest.raises(WorldError, match="cannot read"):
        load_world(tmp_path / "missing.yaml")


def test_a_user_with_a_project_is_tied_to_that_folder_and_may_upload_there():
    text = WORLD.replace("last_name: Itor}", 'last_name: Itor, project: "Show/Dailies/Day 02"}')
    world = parse_world(text, "w.yaml")
    assert world.users["ed@example.com"].project_id == 5000
    assert world.can_upload("ed@example.com", 5000)
    assert parse_world(WORLD, "w.yaml").users["ed@example.com"].project_id is None


def test_a_user_project_that_names_no_folder_is_an_error_naming_the_key():
    text = WORLD.replace("last_name: Itor}", "last_name: Itor, project: Show/Nope}")
    with pytest.raises(WorldError, match=r"w\.yaml: users\[0\]\.project: no folder 'Show/Nope'"):
        parse_world(text, "w.yaml")
