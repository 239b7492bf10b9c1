"""What a non-editable install ships: every folder of modules must be a package setuptools finds."""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def test_every_folder_of_modules_is_shipped() -> None:
    shipped = set(find_packages(str(ROOT), include=["layershare*"]))
    folders = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "layershare").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert folders <= shipped, sorted(folders - shipped)
