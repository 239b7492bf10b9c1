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
