"""An installed wheel (not the source tree) carries its migrations and upgrades a database.

The revisions live in migrations/ at the top of the tree and are installed as
watchd.migrations; an editable install finds them in the tree, so only a real
wheel in a fresh environment shows that they ship. The wheel is built without
build isolation (setuptools comes from the test extras) and without
dependencies, and the fresh environment borrows this one's site-packages for
SQLAlchemy and Alembic, so nothing is downloaded.
"""

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

REPO = Path(__file__).parents[3]

UPGRADE = """
import json, sqlite3, sys
import watchd, watchd.migrations
from watchd.store.database import Database, sqlite_url
from watchd.store.migrate import head_revision, upgrade
from pathlib import Path
state = Path(sys.argv[1])
db = Database(sqlite_url(state))
print(watchd.__file__)
print(watchd.migrations.__file__)
print(upgrade(db.engine), head_revision())
db.close()
with sqlite3.connect(state / "watchd.db") as conn:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    print(json.dumps([name for (name,) in rows]))
"""


def run(*command: str, cwd: Path) -> str:
    done = subprocess.run(
        command, check=False, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def build_wheel(out: Path) -> Path:
    """Build from a copy of what the wheel is made of: a build/ left in the tree would be reused."""
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("watchd", "migrations"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    pip = (sys.executable, "-m", "pip")
    run(
        *pip,
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
        str(source),
        cwd=out,
    )
    (wheel,) = out.glob("watchd-*.whl")
    return wheel


def fresh_venv(where: Path) -> Path:
    """A venv without pip that also sees this environment's packages (but not its watchd)."""
    run(sys.executable, "-m", "venv", "--without-pip", str(where), cwd=where.parent)
    python = where / "bin" / "python"
    site = run(
        str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=where
    )
    # A plain path in a .pth: the borrowed folder's own .pth files (the editable
    # install of this checkout) are not run, so its watchd stays out of sight.
    (Path(site.strip()) / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


def test_a_wheel_installed_in_a_fresh_venv_upgrades_an_empty_database(tmp_path):
    wheel = build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "watchd/migrations/env.py" in names
    assert "watchd/migrations/script.py.mako" in names
    assert "watchd/migrations/versions/0001_initial_schema.py" in names
    assert not any(name.startswith(("migrations/", "watchd/store/migrations/")) for name in names)

    python = fresh_venv(tmp_path / "venv")
    pip = (sys.executable, "-m", "pip", "--python", str(python))
    run(*pip, "install", "-q", "--no-deps", "--no-index", str(wheel), cwd=tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    # -I: neither the current folder nor PYTHONPATH may lend the source tree.
    lines = run(str(python), "-I", "-c", UPGRADE, str(state), cwd=tmp_path).splitlines()

    installed = str(tmp_path / "venv")
    assert lines[0].startswith(installed), lines[0]
    assert lines[1].startswith(installed) and lines[1].endswith("watchd/migrations/__init__.py")
    upgraded, head = lines[2].split()
    assert upgraded == head
    assert {"jobs", "parts", "batches", "alembic_version"} <= set(json.loads(lines[3]))
