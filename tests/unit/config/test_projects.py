"""Project resolution against a fake listing (pure logic; the emulator tests cover the wire)."""

import pytest

from watchd.flowcapture.errors import TransportError
from watchd.flowcapture.models import Folder, Production
from watchd.ingest.projects import (
    ProjectDirectory,
    ProjectResolutionError,
    ProjectResolver,
    resolve_project,
)


class FakeListing:
    def __init__(self, groups, folders, key_folder=None):
        self.groups, self.folder_list, self.calls = groups, folders, 0
        self.tied_to = key_folder  # the project_id authentication answers, or an error to raise

    def key_folder(self):
        self.calls += 1
        if isinstance(self.tied_to, Exception):
            raise self.tied_to
        return self.tied_to

    def get_groups(self):
        self.calls += 1
        return list(self.groups)

    def get_projects(self, group_id=None):
        self.calls += 1
        return [f for f in self.folder_list if group_id is None or f.group_id == group_id]


SHOW = Production(id=1, name="Show Name")
OTHER = Production(id=2, name="Other")
FOLDERS = [
    Folder(id=10, name="Dailies", group_id=1, parent_project_id=None),
    Folder(id=11, name="Editorial", group_id=1, parent_project_id=0),
    Folder(id=12, name="Day 01", group_id=1, parent_project_id=10),
    Folder(id=13, name="VFX", group_id=1, parent_project_id=11),
    Folder(id=14, name="VFX", group_id=1, parent_project_id=11),
    Folder(id=20, name="Dailies", group_id=2, parent_project_id=None),
]


@pytest.fixture
def listing():
    return FakeListing([SHOW, OTHER], FOLDERS)


def test_a_path_of_names_leads_to_the_nested_folder(listing):
    assert resolve_project(listing, "Show Name/Dailies") == 10
    assert resolve_project(listing, "Show Name/Dailies/Day 01") == 12
    assert resolve_project(listing, "Other/Dailies") == 20


def test_an_unknown_folder_lists_what_is_there(listing):
    with pytest.raises(ProjectResolutionError) as caught:
        resolve_project(listing, "Show Name/Dalies")
    assert str(caught.value) == (
        "no folder 'Dalies' in 'Show Name' (did you mean 'Dailies'?); "
        "folders there: Dailies, Editorial"
    )


def test_an_unknown_subfolder_names_its_parent(listing):
    with pytest.raises(ProjectResolutionError, match="no folder 'Day 02' in 'Show Name/Dailies'"):
        resolve_project(listing, "Show Name/Dailies/Day 02")
    with pytest.raises(ProjectResolutionError, match="in 'Show Name/Dailies/Day 01'; it has no"):
        resolve_project(listing, "Show Name/Dailies/Day 01/Deeper")


def test_an_unknown_production_lists_the_visible_ones(listing):
    with pytest.raises(ProjectResolutionError) as caught:
        resolve_project(listing, "Show/Dailies")
    assert "no production 'Show' visible to this user" in str(caught.value)
    assert "productions: Other, Show Name" in str(caught.value)


def test_two_sibling_folders_with_one_name_are_ambiguous(listing):
    with pytest.raises(ProjectResolutionError) as caught:
        resolve_project(listing, "Show Name/Editorial/VFX")
    assert str(caught.value) == (
        "'Show Name/Editorial/VFX' is ambiguous: 2 folders have that name (ids 13, 14); "
        "set project_id: to the one you mean"
    )


def test_two_productions_with_one_name_are_ambiguous():
    twin = Production(id=3, name="Show Name")
    folders = [*FOLDERS, Folder(id=30, name="Dailies", group_id=3)]
    with pytest.raises(ProjectResolutionError) as caught:
        resolve_project(FakeListing([SHOW, twin], folders), "Show Name/Dailies")
    message = str(caught.value)
    assert "2 productions are called 'Show Name'" in message
    assert "project_id 10 (in production id 1)" in message
    assert "project_id 30 (in production id 3)" in message


def test_a_production_alone_is_not_a_folder(listing):
    with pytest.raises(ProjectResolutionError, match="uploads go into a folder"):
        resolve_project(listing, "Show Name")


def test_ids_are_checked_and_listings_fetched_once(listing):
    directory = ProjectDirectory(listing)
    assert directory.check_id(12) == 12
    assert directory.resolve("Show Name/Dailies") == 10
    assert directory.resolve("Show Name/Editorial") == 11
    calls = listing.calls
    directory.resolve("Show Name/Dailies/Day 01")
    assert listing.calls == calls
    with pytest.raises(ProjectResolutionError) as caught:
        directory.check_id(99)
    assert "no folder with id 99 is visible" in str(caught.value)
    assert "Show Name/Dailies/Day 01 (12)" in str(caught.value)


def test_a_folder_naming_no_project_resolves_to_the_keys_folder_and_remembers_it(tmp_path):
    cache = tmp_path / "projects.json"
    service = FakeListing([SHOW], FOLDERS, key_folder=12)
    assert ProjectResolver(service, cache).resolve(None, None) == 12
    service.tied_to = TransportError("connection refused")
    assert ProjectResolver(service, cache).resolve(None, None) == 12  # offline: the cached id
    assert ProjectResolver(service, cache).resolve(None, 7) == 7  # an explicit id asks nothing


def test_a_folder_naming_no_project_with_a_key_tied_to_none_says_what_to_set(tmp_path):
    resolver = ProjectResolver(FakeListing([SHOW], FOLDERS), tmp_path / "projects.json")
    with pytest.raises(ProjectResolutionError, match=r"not tied to a folder.*set project:"):
        resolver.resolve(None, None)
