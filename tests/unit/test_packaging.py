"""What a non-editable install ships: every folder of modules must be a package setuptools finds."""

from __future__ import annotations

from pathlib import Path

import pytest
from setuptools import find_packages
from support import ROOT


def test_every_folder_of_modules_is_shipped() -> None:
    shipped = set(find_packages(str(ROOT), include=["layershare*"]))
    folders = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "layershare").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert folders <= shipped, sorted(folders - shipped)


@pytest.mark.slow
def test_the_wheel_ships_the_page_assets_and_the_fleet_queries(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("layershare-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    page = {p.name for p in (ROOT / "layershare" / "render" / "page").iterdir()}
    assert {"report.html.j2", "report.js", "report.css", "echarts.min.js", "LICENSE-echarts.txt"} <= page
    assert {f"layershare/render/page/{name}" for name in page} <= names
    from layershare.fleet.query import QUERIES

    queries = {
        f"layershare/fleet/sql/{p.name}" for p in (ROOT / "layershare" / "fleet" / "sql").glob("*.sql")
    }
    assert queries == {f"layershare/fleet/sql/{name}.sql" for name in QUERIES}  # every question, no other
    assert queries <= names  # read with importlib.resources from the installed package
    assert "layershare/browse/browse.tcss" in names  # browse's layout, read beside its module


@pytest.mark.slow
def test_the_wheel_and_sdist_check_and_install_with_pipx_as_a_user(tmp_path: Path) -> None:
    """``python -m build`` makes both, ``twine check`` passes, and Debian's pipx installs the wheel as
    uid 65534 (no root): ``layershare --version`` and a report then work."""
    import os
    import shutil
    import subprocess
    import sys

    from support import RECORDING, need

    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], check=True, capture_output=True
    )
    wheel, sdist = sorted(dist.glob("layershare-*.whl")), sorted(dist.glob("layershare-*.tar.gz"))
    assert len(wheel) == 1 and len(sdist) == 1
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    need(shutil.which("pipx") is not None, "the install test needs Debian's pipx (apt-get install pipx)")
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="layershare-pipx-"))  # under /tmp: the user can reach it
    request_cleanup = home
    shutil.copy(RECORDING, home / "recording.json")
    shutil.copy(wheel[0], home / wheel[0].name)
    for path in (home, home / "recording.json", home / wheel[0].name):
        os.chmod(path, 0o777 if path.is_dir() else 0o644)
    env = {"HOME": str(home), "PATH": f"{home}/.local/bin:/usr/bin:/bin", "PIPX_HOME": str(home / "pipx"),
           "PIPX_BIN_DIR": str(home / ".local" / "bin")}  # fmt: skip

    def as_user(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            user=65534,
            group=65534,
            extra_groups=[],
        )

    try:
        installed = as_user("pipx", "install", str(home / wheel[0].name))
        assert installed.returncode == 0, installed.stdout + installed.stderr
        version = as_user(str(home / ".local" / "bin" / "layershare"), "--version")
        assert version.returncode == 0 and "0.1.0" in version.stdout, version.stdout + version.stderr
        report = as_user(
            str(home / ".local" / "bin" / "layershare"), "report", "--recording", "recording.json"
        )
        assert report.returncode == 0 and "Physical size" in report.stdout, report.stderr
    finally:
        shutil.rmtree(request_cleanup, ignore_errors=True)
