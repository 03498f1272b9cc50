"""Imports go down the layers that docs/architecture.md names, never up."""

import ast
from pathlib import Path

import watchd

PACKAGE = Path(watchd.__file__).parent

# What each part may import (itself always). `failpoints` is a top-level test seam.
ALLOWED = {
    "base": set(),
    "config": {"base", "watch.filters"},
    "flowcapture": {"base"},
    "store": {"base"},
    "watch": {"base"},
    "custody": {"base"},
    "ingest": {"base", "config", "custody", "flowcapture", "store", "failpoints"},
    "notify": {"base", "config", "flowcapture", "store"},
    "daemon": {"base", "config", "custody", "flowcapture", "store", "watch", "ingest", "notify"},
    "emulator": set(),  # shares nothing with the client: each checks the other
}


def imports_of(path: Path) -> set[str]:
    """Return the watchd modules ``path`` imports, as dotted names below watchd."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {n.removeprefix("watchd.") for n in names if n.startswith("watchd.")}
    return found


def allowed(part: str, module: str) -> bool:
    return module.split(".", maxsplit=1)[0] == part or any(
        module == a or module.startswith(a + ".") for a in ALLOWED[part]
    )


def test_every_import_goes_down_the_layers():
    wrong = []
    for part in ALLOWED:
        for path in sorted((PACKAGE / part).rglob("*.py")):
            for module in sorted(imports_of(path)):
                if not allowed(part, module):
                    wrong.append(f"{path.relative_to(PACKAGE.parent)} imports watchd.{module}")
    assert wrong == []


def test_the_check_sees_an_upward_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from watchd.daemon.app import Daemon\nimport watchd.base.stop\n")
    assert imports_of(sample) == {"daemon.app", "base.stop"}
    assert not allowed("ingest", "daemon.app")
    assert allowed("config", "watch.filters") and not allowed("config", "watch.folder_watch")
