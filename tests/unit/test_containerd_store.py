"""The containerd store's readers on a real Engine 26.1 store, recorded (no root, no engine needed).

``tests/data/containerd-store-26.1`` was copied off a private Engine 26.1 with
the containerd image store by ``tests/record_containerd_store.py``: the
snapshotter's bbolt metadata, the content store's JSON blobs, and what ``du``
and ``stat`` said each file and folder weighs. The ground truth beside it comes
from containerd's own ``ctr`` (snapshot kinds, parents and sizes; each layer
blob's uncompressed diff ID) and from the Engine API (each image's layers).
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from support import CONTAINERD_STORE

from layershare.ids import chain_ids
from layershare.sources.stores.boltdb import BoltFile, uvarint, varint
from layershare.sources.stores.containerd import DiskUsage, read_config, read_store_at

FIXTURE = CONTAINERD_STORE
TRUTH: dict[str, Any] = json.loads((FIXTURE / "ground_truth.json").read_text())
SNAPSHOTTER = "io.containerd.snapshotter.v1.overlayfs"
KINDS = {1: "View", 2: "Active", 3: "Committed"}


class RecordedUsage(DiskUsage):
    """What ``du`` and ``stat`` said of each file and folder of the store the fixture was taken from."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.table: dict[str, int] = json.loads((FIXTURE / "usage.json").read_text())

    def entry(self, path: Path) -> int:
        return self.table[path.relative_to(self.root).as_posix()]

    def tree(self, folder: Path) -> int:
        return self.table[folder.relative_to(self.root).as_posix() + "/"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The recorded store laid out as containerd keeps it, bbolt files unpacked."""
    daemon = tmp_path_factory.mktemp("containerd") / "daemon"
    shutil.copytree(FIXTURE, daemon, ignore=shutil.ignore_patterns("*.json"))
    for packed in daemon.rglob("*.gz"):
        packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
        packed.unlink()
    return daemon


@pytest.fixture(scope="module")
def store(root: Path) -> dict[str, Any]:
    return read_store_at(root, "overlayfs", [i["Id"] for i in TRUTH["images"]], RecordedUsage(root))


def _name(backend_key: bytes) -> str:
    """``moby/17/sha256:...`` (the snapshotter's key) -> ``sha256:...`` (the name ctr shows)."""
    return backend_key.decode().split("/", 2)[2]


def test_the_bbolt_reader_sees_every_snapshot_ctr_lists(root: Path) -> None:
    records = BoltFile.open(root / SNAPSHOTTER / "metadata.db").tree()[b"v1"][b"snapshots"]
    assert isinstance(records, dict)
    seen = {_name(key): record for key, record in records.items()}
    assert set(seen) == set(TRUTH["snapshots"])
    for name, truth in TRUTH["snapshots"].items():
        record = seen[name]
        assert isinstance(record, dict)
        assert KINDS[record[b"kind"][0]] == truth["kind"], name
        parent = record.get(b"parent")
        assert (_name(parent) if isinstance(parent, bytes) else None) == truth["parent"], name
        if truth["kind"] == "Committed":  # containerd records a committed snapshot's usage once
            size = record[b"size"]
            assert isinstance(size, bytes) and varint(size) == truth["size"], name
        assert isinstance(record[b"id"], bytes) and uvarint(record[b"id"]) > 0


def test_blobs_and_snapshots_add_up_to_what_du_counts(store: dict[str, Any]) -> None:
    blob_bytes = sum(b["size"] for b in store["blobs"].values())
    assert blob_bytes + store["other_blob_bytes"] == TRUTH["du"]["blob_files"]
    snapshot_bytes = sum(store["snapshots"].values())
    assert snapshot_bytes + store["other_snapshot_bytes"] == TRUTH["du"]["snapshot_folders"]


def test_each_committed_layer_snapshot_weighs_what_du_says(store: dict[str, Any], root: Path) -> None:
    folders = {}
    records = BoltFile.open(root / SNAPSHOTTER / "metadata.db").tree()[b"v1"][b"snapshots"]
    assert isinstance(records, dict)
    for key, record in records.items():
        assert isinstance(record, dict) and isinstance(record[b"id"], bytes)
        folders[_name(key)] = f"{SNAPSHOTTER}/snapshots/{uvarint(record[b'id'])}/"
    usage = RecordedUsage(root).table
    layers = {c for i in TRUTH["images"] for c in chain_ids(i["Layers"])}
    assert layers <= set(store["snapshots"])
    for chain_id in layers:
        assert store["snapshots"][chain_id] == usage[folders[chain_id]], chain_id


def test_each_image_uses_the_blobs_of_its_own_layers(store: dict[str, Any]) -> None:
    labels = TRUTH["content_labels"]
    for image in TRUTH["images"]:
        found = store["images"][image["Id"]]
        uncompressed = [labels[d]["containerd.io/uncompressed"] for d in found["layer_blobs"]]
        assert uncompressed == image["Layers"], image["RepoTags"]
        assert image["Id"] in found["blobs"]  # the image's own manifest (its ID is the manifest's digest)
        assert set(found["layer_blobs"]) <= set(found["blobs"])
        assert found["platforms"] == []  # single-platform images: no index


def test_the_configuration_is_read_from_the_content_store(root: Path) -> None:
    for image in TRUTH["images"]:
        config = read_config(root, image["Id"], TRUTH["architecture"])
        assert config is not None, image["RepoTags"]
        assert config["rootfs"]["diff_ids"] == image["Layers"]
        assert len(config["history"]) == image["history_entries"]


def test_what_containerd_keeps_for_an_image_is_counted_with_it(store: dict[str, Any]) -> None:
    """Every blob ctr shows reachable from an image through containerd.io/gc.ref.content labels."""
    labels = TRUTH["content_labels"]
    refs = {
        d: [v for k, v in found.items() if k.startswith("containerd.io/gc.ref.content.")]
        for d, found in labels.items()
    }
    kept: set[str] = set()
    stack = [image["Id"] for image in TRUTH["images"]]
    while stack:
        digest = stack.pop()
        if digest not in kept:
            kept.add(digest)
            stack.extend(refs.get(digest, []))
    counted = {d for image in store["images"].values() for d in image["blobs"]}
    assert counted == kept
    assert store["other_blob_bytes"] == 0  # nothing in this store is kept for no image


def test_a_blob_removed_while_the_store_is_read_weighs_nothing(tmp_path: Path) -> None:
    """containerd's collector may remove a blob between the listing of the folder and its weighing."""
    from layershare.sources.stores.usage import DiskUsage

    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * 5000)
    usage = DiskUsage()
    assert usage.entry_if_present(blob) == usage.entry(blob) > 0
    blob.unlink()
    assert usage.entry_if_present(blob) == 0
