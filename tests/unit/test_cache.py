"""The image cache file: round trip, and every kind of damage ignored rather than trusted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from layershare.cache import CACHE_DIR_ENV, ImageCache, default_cache_dir, engine_key

IMAGE = "sha256:" + "1" * 64
ENTRY = {
    "inspect": {"Id": IMAGE, "Created": "2026-01-01", "RootFS": {"Layers": ["sha256:" + "2" * 64]}},
    "history": [{"Id": IMAGE, "CreatedBy": "COPY x /", "Size": 3, "Created": 1, "Comment": ""}],
}


def test_round_trip(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path, "engine-a")
    cache.save({IMAGE: ENTRY})
    assert cache.load() == {IMAGE: ENTRY}
    assert ImageCache(tmp_path, "engine-b").load() == {}  # another engine's answers are never used


@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip", "garbage", "empty", "foreign-schema", "not-an-object"],
)
def test_a_damaged_file_is_ignored(tmp_path: Path, damage: str) -> None:
    cache = ImageCache(tmp_path, "engine-a")
    cache.save({IMAGE: ENTRY})
    data = cache.path.read_bytes()
    header, payload = data.split(b"\n", 1)
    damaged = {
        "truncate": data[: len(data) - 7],
        "flip": header + b"\n" + payload.replace(b"COPY", b"COPZ"),
        "garbage": os.urandom(200),
        "empty": b"",
        "foreign-schema": header.replace(b"layershare.cache/v1", b"layershare.cache/v9") + b"\n" + payload,
        "not-an-object": b'{"schema": "layershare.cache/v1"}\n[1, 2]',
    }[damage]
    cache.path.write_bytes(damaged)
    assert cache.load() == {}


def test_invalid_entries_are_dropped_one_by_one(tmp_path: Path) -> None:
    other = "sha256:" + "3" * 64
    cache = ImageCache(tmp_path, "engine-a")
    cache.save({IMAGE: ENTRY, other: {"inspect": {"Id": IMAGE}, "history": []}})  # Id does not match its key
    assert cache.load() == {IMAGE: ENTRY}


def test_an_unwritable_folder_costs_only_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ImageCache(blocker / "cache", "engine-a")
    cache.save({IMAGE: ENTRY})  # no exception
    assert cache.load() == {}


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    cache = ImageCache(tmp_path, "engine-a")
    for _ in range(3):
        cache.save({IMAGE: ENTRY})
    assert [p.name for p in tmp_path.iterdir()] == [cache.path.name]


def test_cache_folder_and_engine_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "layershare"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "layershare"
    info = {"ID": "X", "DockerRootDir": "/var/lib/docker", "Driver": "overlay2", "ServerVersion": "20.10"}
    assert engine_key(info) == engine_key(dict(info))
    assert engine_key(info) != engine_key({**info, "DockerRootDir": "/srv/docker"})


def test_the_images_cache_is_used_only_where_a_volume_is_mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In layershare's image LAYERSHARE_CACHE_DIR=/cache and LAYERSHARE_CACHE_IF_PRESENT=1: no folder there,
    no cache (nothing written); a folder there (a volume), that cache; --cache-dir always wins."""
    from layershare.cache import chosen_cache_dir

    folder = tmp_path / "cache"
    monkeypatch.setenv("LAYERSHARE_CACHE_DIR", str(folder))
    monkeypatch.setenv("LAYERSHARE_CACHE_IF_PRESENT", "1")
    assert chosen_cache_dir(str(folder)) is None  # click fills the option from the environment
    folder.mkdir()
    assert chosen_cache_dir(str(folder)) == folder
    assert chosen_cache_dir(str(tmp_path / "given")) == tmp_path / "given"
    monkeypatch.delenv("LAYERSHARE_CACHE_IF_PRESENT")
    folder.rmdir()
    assert chosen_cache_dir(None) == folder  # without the flag the folder is made when first written
