"""Metadata keys that /update/asset uses itself (id, tags) are refused in the config."""

from __future__ import annotations

from watchd.config import load_config
from watchd.config.folder_schema import RESERVED_METADATA_KEYS
from watchd.flowcapture import wire


def test_fixed_fields_named_id_or_tags_are_refused_with_the_key_path(cfg):
    cfg.write_main(
        """\
        folders:
          - {path: /a, project_id: 1, metadata: {fields: {id: "7", camera: A}}}
          - {path: /b, project_id: 1, metadata: {fields: {tags: x}}}
        """
    )
    first, second = cfg.problems()
    assert "folders[0].metadata.fields" in first
    assert "'id' cannot be a metadata key: /update/asset uses 'id' itself" in first
    assert "folders[1].metadata.fields" in second
    assert "list tags under metadata.tags" in second


def test_a_from_path_group_named_tags_is_refused(cfg):
    cfg.write_main(
        """\
        folders:
          - {path: /a, project_id: 1, metadata: {from_path: '(?P<tags>\\w+)_(?P<take>\\d+)'}}
        """
    )
    (problem,) = cfg.problems()
    assert "folders[0].metadata.from_path: named group 'tags' cannot be a metadata key" in problem


def test_other_keys_are_accepted(cfg):
    cfg.write_main(
        """\
        folders:
          - path: /a
            project_id: 1
            metadata: {fields: {identity: x, tagline: y}, from_path: '(?P<ids>\\d+)'}
        """
    )
    (folder,) = load_config(cfg.main).folders
    assert folder.metadata.fields == {"identity": "x", "tagline": "y"}


def test_the_config_refuses_the_same_keys_the_client_does():
    assert set(RESERVED_METADATA_KEYS) == wire.UPDATE_ASSET_OWN_FIELDS
