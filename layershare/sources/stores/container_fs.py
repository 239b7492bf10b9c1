"""A small file of a container, read from its layers on disk (as root) without asking the engine.

``GET /containers/{id}/archive`` writes in the engine's data root while it reads: a
stopped container is mounted for the call (a folder under ``rootfs/``, then removed),
a running one gets a ``.pivot_root`` folder in its writable layer. As root the same
file is found in the container's layers, its writable layer first:
on a graphdriver store through ``image/<driver>/layerdb/mounts/<id>/mount-id`` and
the layer folder's ``lower`` links; on the containerd store through the
snapshotter's metadata, the container's snapshot and its parents.
An overlay whiteout (a character device 0/0) hides the file in the layers below.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from layershare.sources.stores import containerd_meta

# Read no more of a file than this: configuration files are small.
LIMIT = 1 << 20


def graphdriver_layers(data_root: str, driver: str, container_id: str) -> list[Path]:
    """A container's layer folders on a graphdriver store (overlay2), its writable layer first."""
    mounts = Path(data_root, "image", driver, "layerdb", "mounts", container_id)
    try:
        mount_id = (mounts / "mount-id").read_text().strip()
    except OSError:
        return []
    if not mount_id or "/" in mount_id:
        return []
    layers = Path(data_root, driver)
    found = [layers / mount_id / "diff"]
    try:
        lower = (layers / mount_id / "lower").read_text().strip()
    except OSError:
        return found
    for link in filter(None, lower.split(":")):
        if link.startswith("l/") and "/" not in link[2:]:
            found.append(layers / link)  # a symlink to the lower layer's diff folder
    return found


def containerd_layers(store_root: Path, snapshotter: str, container_id: str) -> list[Path]:
    """A container's snapshot folders on the containerd store (``moby`` namespace), its own first."""
    folder = store_root / f"io.containerd.snapshotter.v1.{snapshotter}"
    records = containerd_meta.read_snapshot_records(folder)
    by_name = {r.name: k for k, r in records.items() if r.namespace == containerd_meta.NAMESPACE}
    key = by_name.get(container_id)
    found: list[Path] = []
    seen: set[str] = set()
    while key is not None and key in records and key not in seen:
        seen.add(key)
        found.append(folder / "snapshots" / str(records[key].number) / "fs")
        key = records[key].parent
    return found


def read_file(layers: list[Path], path: str) -> str | None:
    """The text of ``path`` in the topmost layer that has it; None if absent, hidden or not a file."""
    relative = path.lstrip("/")
    if not relative or ".." in Path(relative).parts:
        return None
    for layer in layers:
        candidate = layer / relative
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
            return None  # a whiteout: removed in this layer
        if not stat.S_ISREG(info.st_mode):
            return None
        try:
            with open(candidate, "rb") as f:
                return f.read(LIMIT).decode(errors="replace")
        except OSError:
            return None
    return None
