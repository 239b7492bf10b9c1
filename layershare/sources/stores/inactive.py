"""An image store the engine no longer uses: the overlay2 (or other graphdriver) store left beside an
engine that switched to the containerd image store (``"containerd-snapshotter": true``), or the
containerd store left beside an engine switched back to a graphdriver.

``docker image ls`` no longer shows its images and no prune reaches it, yet its layers stay on disk.
Everything here is read from that store's own metadata, never guessed. A graphdriver store: the tags
from ``image/<driver>/repositories.json``, each image's layers from its configuration in ``imagedb``,
each layer's size from ``layerdb/sha256/<chain id>/size`` (what ``LayersSize`` counted while the store
was in use). A containerd store: the image names of Docker's namespace in containerd's bolt database,
their blobs at their size and the snapshots of their chains at the usage containerd recorded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layershare.ids import chain_ids
from layershare.sources.references import familiar
from layershare.sources.stores import containerd, containerd_meta, graphdriver

# The graphdriver names moby has used for a layer folder at the top of a data root.
GRAPHDRIVERS = ("overlay2", "fuse-overlayfs", "btrfs", "zfs", "vfs", "aufs", "devicemapper", "overlay")


@dataclass(frozen=True)
class StoredImage:
    """An image of an inactive store: its ID, tags (short form, as ``docker image ls`` writes them) and
    the recorded sizes of its layers added up."""

    id: str
    tags: tuple[str, ...]
    bytes: int


@dataclass(frozen=True)
class InactiveGraphdriver:
    """One graphdriver store left in a data root: its driver, its layers' recorded sizes (each once) and
    its images."""

    driver: str
    bytes: int
    images: tuple[StoredImage, ...]


def inactive_graphdrivers(data_root: str) -> list[InactiveGraphdriver]:
    """The graphdriver stores under a data root whose engine uses the containerd store: each driver that
    has a layer folder (``<root>/<driver>``) or an image store (``<root>/image/<driver>``)."""
    root = Path(data_root)
    found = []
    for driver in GRAPHDRIVERS:
        if (root / driver).is_dir() or (root / "image" / driver).is_dir():
            found.append(_read(root, driver))
    return found


def _read(root: Path, driver: str) -> InactiveGraphdriver:
    info = {"DockerRootDir": str(root), "Driver": driver}
    store = root / "image" / driver
    try:
        repositories = json.loads((store / "repositories.json").read_bytes()).get("Repositories") or {}
    except (OSError, ValueError, AttributeError):
        repositories = {}
    tags: dict[str, list[str]] = {}
    for names in repositories.values():
        for name, image_id in (names or {}).items():
            if "@" not in name:  # name@digest entries name the same image by its digest
                tags.setdefault(str(image_id), []).append(familiar(str(name)))
    configs = store / "imagedb" / "content" / "sha256"
    images = []
    for name in sorted(_names(configs)):
        image_id = f"sha256:{name}"
        try:
            config = graphdriver.read_image_config(configs, image_id)
        except (OSError, ValueError):
            continue
        chain = chain_ids(list((config.get("rootfs") or {}).get("diff_ids") or []))
        sizes = graphdriver.read_layer_sizes(info, chain)
        images.append(StoredImage(image_id, tuple(sorted(tags.get(image_id, ()))), sum(sizes.values())))
    return InactiveGraphdriver(driver, graphdriver.stored_layers_bytes(info) or 0, tuple(images))


# Where a containerd store kept beside a graphdriver engine lives, under the data root.
CONTAINERD_STORE = "containerd/daemon"


def inactive_containerd(data_root: str, snapshotter: str = "overlayfs") -> InactiveGraphdriver | None:
    """The containerd image store under a data root whose engine now uses a graphdriver: None where
    Docker's namespace there holds no image."""
    root = Path(data_root, CONTAINERD_STORE)
    try:
        meta = containerd_meta.read_meta(root)
    except (OSError, ValueError):
        return None
    names: dict[str, list[str]] = {}
    for record in containerd_meta.image_records(meta, containerd_meta.NAMESPACE):
        tag = [] if record.name.startswith("moby-dangling@") else [familiar(record.name)]
        names.setdefault(record.target, []).extend(tag)
    if not names:
        return None
    store = containerd.read_store_at(root, snapshotter, list(names))
    blobs, snapshots = store["blobs"], store["snapshot_bytes"]
    images: list[StoredImage] = []
    used_blobs: set[str] = set()
    used_chains: set[str] = set()
    found: dict[str, Any]
    for image_id, found in store["images"].items():
        own = [d for d in found["blobs"] if blobs[d].get("kind") != "kept"]
        config = containerd.read_config(root, image_id, "")
        chain = [
            c
            for c in chain_ids(list(((config or {}).get("rootfs") or {}).get("diff_ids") or []))
            if c in snapshots
        ]
        used_blobs.update(own)
        used_chains.update(chain)
        weight = sum(int(blobs[d]["bytes"]) for d in own) + sum(int(snapshots[c]) for c in chain)
        images.append(StoredImage(image_id, tuple(sorted(names.get(image_id, ()))), weight))
    total = sum(int(blobs[d]["bytes"]) for d in used_blobs) + sum(int(snapshots[c]) for c in used_chains)
    return InactiveGraphdriver("containerd", total, tuple(sorted(images, key=lambda i: i.id)))


def _names(folder: Path) -> list[str]:
    try:
        return [e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
