"""pyproject.toml lists every package, and maps the top-level migrations/ into the package."""

import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).parents[2]


def setuptools_settings() -> dict[str, Any]:
    with (REPO / "pyproject.toml").open("rb") as file:
        settings: dict[str, Any] = tomllib.load(file)["tool"]["setuptools"]
    return settings


def test_every_folder_of_the_package_is_listed_for_the_wheel():
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "watchd").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    listed = set(setuptools_settings()["packages"]) - {
        "watchd.migrations",
        "watchd.migrations.versions",
    }
    assert not found - listed, f"add to packages in pyproject.toml: {sorted(found - listed)}"
    assert not listed - found, f"remove from packages in pyproject.toml: {sorted(listed - found)}"


def test_the_migrations_at_the_top_of_the_tree_ship_as_watchd_migrations():
    settings = setuptools_settings()
    assert settings["package-dir"] == {"watchd.migrations": "migrations"}
    top = REPO / "migrations"
    assert (top / "env.py").is_file() and (top / "versions" / "__init__.py").is_file()
    assert sorted(top.glob("versions/0001_*.py"))
    assert not (REPO / "watchd" / "store" / "migrations").exists()
    assert settings["package-data"]["watchd.migrations"] == ["script.py.mako"]
