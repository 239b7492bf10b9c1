"""What one run knows of an engine's image store: its kind, driver and folders."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from layershare.sources.answers import is_containerd_store
from layershare.sources.stores import container_fs, containerd


class EngineStore:
    """What one run knows of the engine's image store, derived once: its kind, driver and folders."""

    def __init__(self, info: Mapping[str, Any], data_root: str) -> None:
        self.info = info
        self.data_root = data_root
        self.containerd = is_containerd_store(info)
        self.driver = str(info.get("Driver") or ("overlayfs" if self.containerd else "overlay2"))
        self.architecture = str(info.get("Architecture") or "")
        self.version = str(info.get("ServerVersion") or "")
        self.readable = bool(data_root) and os.access(data_root, os.R_OK | os.X_OK)
        self.containerd_root = (
            containerd.find_store_near(data_root) if self.containerd and data_root else None
        )
        # GET /info as if it named this data root: what the graphdriver store's readers take.
        self.graph_info = {**info, "DockerRootDir": data_root}

    def container_file(self, container_id: str, path: str) -> str | None:
        """A container's file read from its layers on this store's disk (as root), its writable layer
        first, without asking the engine (:mod:`~layershare.sources.stores.container_fs`); None if absent."""
        if self.containerd:
            root = self.containerd_root
            layers = container_fs.containerd_layers(root, self.driver, container_id) if root else []
        else:
            layers = container_fs.graphdriver_layers(self.data_root, self.driver, container_id)
        return container_fs.read_file(layers, path)
