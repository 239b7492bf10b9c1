"""The graphdriver image store on disk (``<root>/image/<driver>/``), read where this process may.

Image configurations (``imagedb/content/sha256/<image id>``) and layer sizes
(``layerdb/sha256/<chain id>/size``) are content-addressed: what they say for
an ID is exact and never changes. Reading them replaces two API calls per
image and gives the exact history (the configuration's ``empty_layer`` flags).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def store_dir(info: Mapping[str, Any], *parts: str) -> Path | None:
    """A folder of the graphdriver image store: ``<root>/image/<driver>/...``."""
    root, driver = info.get("DockerRootDir"), info.get("Driver")
    if not root or not driver:
        return None
    return Path(str(root), "image", str(driver), *parts)


def layerdb(info: Mapping[str, Any]) -> Path | None:
    """The layer store: one folder per chain ID."""
    return store_dir(info, "layerdb", "sha256")


def imagedb(info: Mapping[str, Any]) -> Path | None:
    """The image store's configurations, readable by this process, or None."""
    folder = store_dir(info, "imagedb", "content", "sha256")
    return folder if folder is not None and os.access(folder, os.R_OK | os.X_OK) else None


def read_image_config(folder: Path, image_id: str) -> dict[str, Any]:
    """An image's configuration from ``imagedb`` (``OSError`` or ``ValueError`` if unreadable)."""
    config = json.loads((folder / image_id.removeprefix("sha256:")).read_bytes())
    if not isinstance(config, dict):
        raise ValueError(f"configuration of {image_id} is not an object")
    return config


def read_layer_sizes(info: Mapping[str, Any], chains: Iterable[str]) -> dict[str, int]:
    """Sizes of stored layers by chain ID, from the engine's layer store on this host.

    Only the graphdriver store keeps ``image/<driver>/layerdb``. A chain ID is a
    content address, so a size read for it is right whichever engine wrote it.
    Chain IDs the store does not hold (or cannot be read) are left out.
    """
    folder = layerdb(info)
    if folder is None:
        return {}
    sizes: dict[str, int] = {}
    for chain_id in chains:
        try:
            with open(folder / chain_id.removeprefix("sha256:") / "size", "rb") as f:
                sizes[chain_id] = int(f.read())
        except (OSError, ValueError):
            continue
    return sizes


def stored_layers_bytes(info: Mapping[str, Any]) -> int | None:
    """The sum of every stored layer's recorded size (what the engine reports as ``LayersSize``)."""
    folder = layerdb(info)
    if folder is None:
        return None
    total = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    with open(os.path.join(entry.path, "size"), "rb") as f:
                        total += int(f.read())
                except (OSError, ValueError):
                    continue
    except OSError:
        return None
    return total
