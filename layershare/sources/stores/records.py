"""The containerd image store's state from containerd's own records: the report cache's key, and the
image list made from them.

On the containerd store, ``GET /images/json`` sizes every image (Engine 29.7: about 6.5 s at 1,000
images, the most of a report's time). As root on the engine's host, what that list depends on is
in containerd's bolt databases: the ``moby`` namespace's image records (names and targets), its content
(blobs present, with the labels the collector follows) and snapshots, and the snapshotter's own
records. :class:`Records` holds them as read once (a copy caught mid-write, whose meta page does not
check out, is taken again: :func:`~layershare.sources.stores.boltdb.read_tree`). Its ``digest`` is a
digest of those records (but when each was made or touched, and the snapshots' index of their
children); its ``image_list`` is the engine's list, where the engine's rules are known
(:mod:`~layershare.sources.stores.image_list`). A store is used only where it is proved to be the
engine's: its data root holds the ``engine-id`` file (Engine 23 and later) naming the ``ID`` the
engine answers with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layershare.sources.answers import is_containerd_store
from layershare.sources.stores import containerd
from layershare.sources.stores.boltdb import BoltError, Tree, read_tree
from layershare.sources.stores.containerd_meta import NAMESPACE, bucket, read_meta, snapshot_records
from layershare.sources.stores.image_list import list_images
from layershare.sources.stores.measure import image_list_known

BUCKETS = (b"images", b"content", b"snapshots")  # not leases: they come and go with every pull and run
# When a record was made or last touched says nothing the image list shows (an image's Created is its
# configuration's), and relabelling a shared blob touches it: an image added and removed again leaves
# the same records but for those.
TIMES = (b"createdat", b"updatedat")
# A snapshot's ``children`` is an index of the snapshots that name it as their parent, each of which is
# in the records itself; a build's container can leave its entry behind.
INDEXES = (b"children",)


@dataclass(frozen=True)
class Records:
    """containerd's records of the engine's store, read once: its metadata and its snapshotter's."""

    root: Path
    meta: Tree
    snapshots: Tree

    @property
    def digest(self) -> str | None:
        """A digest of the records the engine's image list is made from (see :func:`store_digest`)."""
        namespace = bucket(self.meta, NAMESPACE)
        if not namespace:
            return None
        digest = hashlib.sha256()
        for name in BUCKETS:
            _feed(digest, name, namespace.get(name, b""))
        _feed(digest, b"snapshotter", self.snapshots)
        return digest.hexdigest()

    def image_list(self, info: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The engine's image list made from these records, where its rules are known for this engine
        (:mod:`~layershare.sources.stores.image_list`); None where the engine must be asked."""
        if not image_list_known(str(info.get("ServerVersion") or "")):
            return None
        return list_images(self.meta, snapshot_records(self.snapshots), self.root, info)


def read_records(info: Mapping[str, Any]) -> Records | None:
    """The engine's containerd records; None where they cannot be read here or the data root is not
    proved to be this engine's."""
    if not is_containerd_store(info) or not proved(info):
        return None
    root = containerd.find_store(info)
    if root is None:
        return None
    snapshotter = str(info.get("Driver") or "overlayfs")
    try:
        meta = read_meta(root)
        snapshots = read_tree(root / f"io.containerd.snapshotter.v1.{snapshotter}" / "metadata.db")
    except (OSError, BoltError):
        return None
    return Records(root, meta, snapshots)


def listed_from_records(
    info: Mapping[str, Any], records: Records | None = None
) -> list[dict[str, Any]] | None:
    """The engine's image list from its containerd records (``records``, else read now); None where they
    cannot be read here or the engine's rules are not known (:meth:`Records.image_list`)."""
    records = records if records is not None else read_records(info)
    return records.image_list(info) if records is not None else None


def store_digest(info: Mapping[str, Any]) -> str | None:
    """A digest of the records the engine's image list is made from; None where they cannot be read
    here, or the data root is not proved to be this engine's (then the engine's list is asked)."""
    records = read_records(info)
    return records.digest if records is not None else None


def proved(info: Mapping[str, Any]) -> bool:
    """Whether the data root here is the engine's own: its ``engine-id`` file holds the engine's ID."""
    engine_id, data_root = str(info.get("ID") or ""), str(info.get("DockerRootDir") or "")
    if not engine_id or not data_root:
        return False
    try:
        return Path(data_root, "engine-id").read_text().strip() == engine_id
    except (OSError, UnicodeDecodeError):
        return False


def _feed(digest: Any, key: bytes, value: Tree | bytes) -> None:
    """Keys and values, each length-prefixed, buckets in key order: equal records, equal digests."""
    digest.update(len(key).to_bytes(4, "big") + key)
    if isinstance(value, dict):
        digest.update(b"{")
        for child in sorted(value):
            if (child in TIMES and not isinstance(value[child], dict)) or child in INDEXES:
                continue
            _feed(digest, child, value[child])
        digest.update(b"}")
    else:
        digest.update(b"=" + len(value).to_bytes(8, "big") + value)
