"""The bbolt reader's pieces that need no containerd: varints and refusing what is not a bbolt file."""

from __future__ import annotations

import os

import pytest
from support import CONTAINERD_STORE

from layershare.sources.stores.boltdb import BoltError, BoltFile, uvarint, varint


@pytest.mark.parametrize(
    ("data", "value"), [(b"\x06", 6), (b"I", 73), (b"\x80\x01", 128), (b"\xac\x02", 300)]
)
def test_uvarint(data: bytes, value: int) -> None:
    assert uvarint(data) == value


def test_varint_is_zigzag() -> None:
    # 2129920 recorded by containerd as a snapshot size, read back off a real metadata.db
    assert varint(b"\x80\x80\x84\x02") == 2_129_920
    assert varint(b"\x01") == -1
    assert varint(b"\x02") == 1


def test_what_is_not_bbolt_is_refused() -> None:
    for data in (b"", os.urandom(8192), b"\0" * 8192):
        with pytest.raises(BoltError):
            BoltFile(data)
    with pytest.raises(BoltError):
        uvarint(b"\x80\x80")


def _recorded_meta() -> bytes:
    import gzip

    folder = CONTAINERD_STORE
    return gzip.decompress((folder / "io.containerd.metadata.v1.bolt" / "meta.db.gz").read_bytes())


def test_a_meta_page_caught_mid_write_is_passed_over() -> None:
    """bbolt writes the meta pages in turn; one whose checksum does not match was read mid-write."""
    import struct

    data = bytearray(_recorded_meta())
    page_size = struct.unpack_from("<I", data, 24)[0]
    whole = BoltFile(bytes(data))
    txids = [struct.unpack_from("<Q", data, offset + 64)[0] for offset in (0, page_size)]
    newer = (0, page_size)[txids.index(max(txids))]
    older = (0, page_size)[txids.index(min(txids))]
    data[newer + 64] ^= 0xFF  # the newer meta's txid torn: its checksum no longer matches
    torn = BoltFile(bytes(data))
    assert torn.root == struct.unpack_from("<Q", data, older + 32)[0]
    assert torn.tree().keys() == whole.tree().keys()
    data[older + 20] ^= 0xFF  # both torn: nothing to trust
    with pytest.raises(BoltError):
        BoltFile(bytes(data))


def test_read_tree_takes_the_file_again_until_it_holds_together(tmp_path: object) -> None:
    from pathlib import Path

    from layershare.sources.stores import boltdb

    path = Path(str(tmp_path)) / "meta.db"
    good = _recorded_meta()
    reads = []

    class Flaky(BoltFile):
        @classmethod
        def open(cls, where: str | Path) -> BoltFile:
            reads.append(where)
            return BoltFile(b"\0" * 8192 if len(reads) < 3 else good)

    path.write_bytes(good)
    original = boltdb.BoltFile
    boltdb.BoltFile = Flaky  # type: ignore[misc]
    try:
        assert boltdb.read_tree(path, pause=0) == BoltFile(good).tree()
        assert len(reads) == 3
        reads.clear()
        with pytest.raises(BoltError):
            boltdb.read_tree(path, attempts=2, pause=0)
    finally:
        boltdb.BoltFile = original  # type: ignore[misc]


def test_the_store_digest_is_containerds_records_and_only_for_the_engines_own_store(tmp_path: object) -> None:
    """The report cache's key on the containerd store as root: the same records give the same digest; a
    changed image record another; a data root whose engine-id is not the engine's ID, or records that
    do not hold together, none (the engine's own image list is asked then)."""
    import gzip
    import shutil
    import struct
    from pathlib import Path

    from layershare.sources.stores.records import store_digest

    root = Path(str(tmp_path)) / "root"
    store = root / "containerd" / "daemon"
    shutil.copytree(CONTAINERD_STORE, store, ignore=shutil.ignore_patterns("*.json"))
    for packed in store.rglob("*.gz"):  # the recording keeps containerd's bolt files compressed
        packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
    (root / "engine-id").write_text("a8d99d84-engine\n")
    info = {
        "ID": "a8d99d84-engine",
        "DockerRootDir": str(root),
        "Driver": "overlayfs",
        "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
    }
    first = store_digest(info)
    assert first is not None and store_digest(info) == first
    assert store_digest({**info, "ID": "another-engine"}) is None  # not proved to be this engine's store
    assert store_digest({**info, "DriverStatus": []}) is None  # a graphdriver store lists fast enough
    meta = store / "io.containerd.metadata.v1.bolt" / "meta.db"
    data = bytearray(meta.read_bytes())
    # A record changed in place (a name or label, same length, so the pages still hold together): another state.
    name = data.find(b"docker.io/")
    assert name > 0
    data[name + len("docker.io/")] ^= 0x01
    meta.write_bytes(bytes(data))
    changed = store_digest(info)
    assert changed is not None and changed != first
    page_size = struct.unpack_from("<I", data, 24)[0]
    data[20] ^= 0xFF  # both meta pages caught mid-write: nothing to trust
    data[page_size + 20] ^= 0xFF
    meta.write_bytes(bytes(data))
    assert store_digest(info) is None
