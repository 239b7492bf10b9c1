"""An image store the engine no longer uses: the overlay2 (or other graphdriver) store left beside an
engine that switched to the containerd image store (``"containerd-snapshotter": true``).

``docker image ls`` no longer shows its images and no prune reaches it, yet its layers stay on disk.
Everything here is read from that store's own metadata, never guessed: the tags from
``image/<driver>/repositories.json``, each image's layers from its configuration in ``imagedb``, each
layer's size from ``layerdb/sha256/<chain id>/size`` (what ``LayersSize`` counted while the store was
in use).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from layershare.ids import chain_ids
from layershare.sources.stores import graphdriver

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


def familiar(reference: str) -> str:
    """``docker.io/library/app:1`` -> ``app:1``; ``docker.io/team/app:1`` -> ``team/app:1``."""
    name = reference.removeprefix("docker.io/")
    if name != reference and name.startswith("library/") and "/" not in name[len("library/") :]:
        name = name[len("library/") :]
    return name


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


def _names(folder: Path) -> list[str]:
    try:
        return [e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
