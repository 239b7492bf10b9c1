"""Stored layers read from folders (as root reads overlay2's ``diff`` and containerd's ``fs``), without an
engine: real files in temporary folders. Hard links once, whiteouts and empty files not copies, the
files another copy may share content with hashed (same length, and same CRC-64 where tar-split gives
one), and a second read that walks and hashes nothing (each layer kept by diff ID)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest

from layershare.model import StoredCopy
from layershare.sources.dupes import folders
from layershare.sources.dupes.cache import LayerFilesCache
from layershare.sources.stores.tarsplit import crc64s

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def layer(root: Path, files: dict[str, bytes]) -> Path:
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    return root


def test_a_folder_walk_and_what_is_hashed(tmp_path: Path) -> None:
    a = layer(tmp_path / "a", {"bin/sh": b"x" * 100, "etc/empty": b"", "opt/unique": b"u" * 77})
    os.link(a / "bin/sh", a / "bin/ash")  # a hard link: one copy, named by its first path A-Z
    os.mknod(a / "etc/.wh.gone", 0o600 | 0o020000, os.makedev(0, 0)) if os.geteuid() == 0 else None
    b = layer(tmp_path / "b", {"usr/bin/sh": b"x" * 100, "usr/other": b"y" * 100})
    found = folders.read_folders({"c1": (D1, a, None), "c2": (D2, b, None)})
    assert sorted(c.path for c in found["c1"].copies) == ["bin/ash", "opt/unique"]
    digests = {c.path: c.digest for f in found.values() for c in f.copies}
    sh = "sha256:" + hashlib.sha256(b"x" * 100).hexdigest()
    assert digests["bin/ash"] == digests["usr/bin/sh"] == sh
    assert digests["usr/other"] is not None  # the same length as sh: read
    assert digests["opt/unique"] is None  # no other copy has its length: not read


def test_crc64s_tell_same_length_files_apart_unread(tmp_path: Path) -> None:
    a = layer(tmp_path / "a", {"f": b"a" * 10, "g": b"b" * 10})
    b = layer(tmp_path / "b", {"f": b"a" * 10})
    split = tmp_path / "tar-split.json.gz"
    with gzip.open(split, "wt") as out:
        for name, crc in (("f", "AAAAAAAAAAE="), ("g", "AAAAAAAAAAI=")):
            out.write(json.dumps({"type": 2, "payload": "AAAA", "position": 0}) + "\n")
            out.write(json.dumps({"type": 1, "name": name, "size": 10, "payload": crc, "position": 1}) + "\n")
    assert crc64s(split) == {"f": "AAAAAAAAAAE=", "g": "AAAAAAAAAAI="}
    split_b = tmp_path / "b.json.gz"
    with gzip.open(split_b, "wt") as out:
        out.write(json.dumps({"type": 1, "name": "./f", "size": 10, "payload": "AAAAAAAAAAE="}) + "\n")
    found = folders.read_folders({"c1": (D1, a, split), "c2": (D2, b, split_b)})
    digests = {(k, c.path): c.digest for k, f in found.items() for c in f.copies}
    assert digests[("c1", "f")] == digests[("c2", "f")] is not None
    assert digests[("c1", "g")] is None  # its CRC-64 is no other copy's: not read


def test_a_second_read_walks_and_hashes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = layer(tmp_path / "a", {"f": b"z" * 50, "g": b"w" * 50})
    cache = LayerFilesCache(tmp_path / "cache", "test")
    first = folders.read_folders({"c1": (D1, a, None)}, cache)

    def refuse(*args: object) -> list[StoredCopy]:
        raise AssertionError("read a layer again")

    monkeypatch.setattr(folders, "walk", refuse)
    monkeypatch.setattr(folders, "sha256_of", refuse)
    assert folders.read_folders({"c1": (D1, a, None)}, cache) == first


def test_a_file_that_vanishes_marks_its_layer_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = layer(tmp_path / "a", {"f": b"q" * 20, "g": b"r" * 20})
    b = layer(tmp_path / "b", {"f": b"q" * 20})
    walk = folders.walk

    def walk_then_remove(root: Path, crcs: object = None) -> list[StoredCopy]:
        found = walk(root)
        if root == a:
            (a / "g").unlink()
        return found

    monkeypatch.setattr(folders, "walk", walk_then_remove)
    found = folders.read_folders({"c1": (D1, a, None), "c2": (D2, b, None)})
    assert "g" in found["c1"].unread and found["c1"].copies == ()
    assert [c.path for c in found["c2"].copies] == ["f"] and found["c2"].unread == ""
