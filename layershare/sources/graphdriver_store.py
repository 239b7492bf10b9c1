"""The graphdriver image store on disk (``<root>/image/<driver>/``), read where this process may.

Image configurations (``imagedb/content/sha256/<image id>``) and layer sizes
(``layerdb/sha256/<chain id>/size``) are content-addressed: what they say for
an ID is exact and never changes. Reading them replaces two API calls per
image and gives the exact history (the configuration's ``empty_layer`` flags).
Nothing here imports the Docker SDK.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from layershare.chain import chain_ids
from layershare.sources.archive import unix_time
from layershare.sources.containerd_store import find_store
from layershare.sources.recording import OCI_LABEL_PREFIX


def trim_inspect(inspect: Mapping[str, Any]) -> dict[str, Any]:
    """Keep what the model needs; environment and non-OCI label values are dropped here."""
    labels = (inspect.get("Config") or {}).get("Labels") or {}
    return {
        "Id": inspect.get("Id"),
        "Created": inspect.get("Created"),
        "RootFS": {"Layers": list((inspect.get("RootFS") or {}).get("Layers") or [])},
        "Config": {"Labels": {k: v for k, v in labels.items() if k.startswith(OCI_LABEL_PREFIX)}},
    }


def store_dir(info: Mapping[str, Any], *parts: str) -> Path | None:
    """A folder of the graphdriver image store: ``<root>/image/<driver>/...``."""
    root, driver = info.get("DockerRootDir"), info.get("Driver")
    if not root or not driver:
        return None
    return Path(str(root), "image", str(driver), *parts)


def _layerdb(info: Mapping[str, Any]) -> Path | None:
    return store_dir(info, "layerdb", "sha256")


def answers_from_config(
    image_id: str, config: Mapping[str, Any], sizes: Mapping[str, int]
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The inspect and history answers an image's configuration gives, in the API's shape.

    None when a layer's size is not in the store or the history does not fit the layers.
    """
    diff_ids = list(config["rootfs"]["diff_ids"])
    layer_sizes = [sizes.get(c) for c in chain_ids(diff_ids)]
    raw = config.get("history") or []
    if any(s is None for s in layer_sizes) or sum(1 for h in raw if not h.get("empty_layer")) != len(
        diff_ids
    ):
        return None
    remaining = iter(layer_sizes)
    history = [
        {
            "Created": unix_time(h.get("created")),
            "CreatedBy": str(h.get("created_by") or ""),
            "Size": 0 if h.get("empty_layer") else next(remaining),
            "Comment": str(h.get("comment") or ""),
            "EmptyLayer": bool(h.get("empty_layer")),
        }
        for h in raw
    ]
    newest_first = list(reversed(history))
    for n, entry in enumerate(newest_first):
        entry["Id"] = image_id if n == 0 else "<missing>"
    inspect = {
        "Id": image_id,
        "Created": config.get("created"),
        "RootFS": {"Layers": diff_ids},
        "Config": {"Labels": (config.get("config") or {}).get("Labels") or {}},
    }
    return trim_inspect(inspect), newest_first


def is_containerd(info: Mapping[str, Any]) -> bool:
    return dict(info.get("DriverStatus") or []).get("driver-type") == "io.containerd.snapshotter.v1"


def layer_store_readable(info: Mapping[str, Any]) -> bool:
    """Whether this process can read the engine's image store (root on the engine's host)."""
    if is_containerd(info):
        return find_store(info) is not None
    layerdb = _layerdb(info)
    return layerdb is not None and os.access(layerdb, os.R_OK | os.X_OK)


def read_layer_sizes(info: Mapping[str, Any], chains: Iterable[str]) -> dict[str, int]:
    """Sizes of stored layers by chain ID, from the engine's layer store on this host.

    Only the graphdriver store keeps ``image/<driver>/layerdb``. A chain ID is a
    content address, so a size read for it is right whichever engine wrote it.
    Chain IDs the store does not hold (or cannot be read) are left out.
    """
    layerdb = _layerdb(info)
    if layerdb is None:
        return {}
    sizes: dict[str, int] = {}
    for chain_id in chains:
        try:
            with open(layerdb / chain_id.removeprefix("sha256:") / "size", "rb") as f:
                sizes[chain_id] = int(f.read())
        except (OSError, ValueError):
            continue
    return sizes
