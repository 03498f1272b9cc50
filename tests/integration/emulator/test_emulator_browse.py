"""Visibility of productions, folders and assets, and upload rights."""

from __future__ import annotations


def test_the_demo_user_sees_only_demo_production(api, token):
    assert api.call("/get/groups", token) == [{"id": 100, "name": "Demo Production"}]


def test_projects_carry_group_and_parent(api, token):
    projects = api.call("/get/projects", token)
    assert projects == [
        {"id": 1000, "name": "Dailies", "group_id": 100, "parent_project_id": None},
        {"id": 1001, "name": "Day 01", "group_id": 100, "parent_project_id": 1000},
    ]


def test_an_invisible_group_is_403_and_an_unknown_one_404(api, token):
    api.error("/get/projects", 403, token, group_id=101)
    api.error("/get/projects", 404, token, group_id=999)


def test_assets_of_an_invisible_folder_are_403_and_unknown_404(api, token):
    api.error("/get/assets", 403, token, project_id=api.RUSHES)
    api.error("/get/assets", 404, token, project_id=4242)
    assert "project_id" in api.error("/get/assets", 400, token)["message"]


def test_a_viewer_cannot_start_an_upload(api):
    viewer = api.token("viewer@example.com", "viewer-api-key")
    assert api.call("/get/groups", viewer) == [{"id": 100, "name": "Demo Production"}]
    api.error("/upload/asset/init", 403, viewer, project_id=api.DAILIES, filename="a.mov")


def test_init_checks_project_and_uuid(api, token):
    api.error("/upload/asset/init", 404, token, project_id=4242, filename="a.mov")
    api.error("/upload/asset/init", 403, token, project_id=api.RUSHES, filename="a.mov")
    error = api.error(
        "/upload/asset/init",
        400,
        token,
        project_id=api.DAILIES,
        filename="a.mov",
        uuid="d0e07781da0f",
    )
    assert "uuid" in error["message"]
    assert (
        "filename" in api.error("/upload/asset/init", 400, token, project_id=api.DAILIES)["message"]
    )
