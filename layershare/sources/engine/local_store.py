"""The engine's own files, where this process may read them (root on the engine's host).

What an image ID's configuration and its layers' sizes say is fixed by the IDs,
so reading them from the image store replaces two API calls per image and is
exact: the configuration's ``empty_layer`` flags say which instruction made
which layer. The graphdriver store (:mod:`~layershare.sources.stores.graphdriver`)
and the containerd store (:mod:`~layershare.sources.stores.containerd`) are both read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from layershare.ids import chain_ids
from layershare.sources.answers import answers_from_config, is_containerd_store, trim_history
from layershare.sources.stores import containerd, graphdriver

Answers = tuple[dict[str, Any], list[dict[str, Any]]]


def store_readable(info: Mapping[str, Any]) -> bool:
    """Whether this process can read the engine's image store (root on the engine's host)."""
    if is_containerd_store(info):
        return containerd.find_store(info) is not None
    folder = graphdriver.layerdb(info)
    return folder is not None and os.access(folder, os.R_OK | os.X_OK)


class LocalStore:
    """One engine's image store as this run reads it; each layer size is read once per run."""

    def __init__(self, info: Mapping[str, Any], *, show_values: bool) -> None:
        self.info = info
        self.show_values = show_values
        self.containerd = is_containerd_store(info)
        self._sizes: dict[str, int] = {}

    def content_store(self, image_ids: Iterable[str]) -> dict[str, Any] | None:
        """The containerd store's blobs and snapshots (None on a graphdriver store or unreadable)."""
        return containerd.read_store(self.info, image_ids) if self.containerd else None

    def layer_sizes(self, chains: Iterable[str]) -> dict[str, int]:
        """Sizes of these chain IDs from the graphdriver layer store (each file read once per run)."""
        if self.containerd:
            return {}
        wanted = [c for c in chains if c not in self._sizes]
        self._sizes.update(graphdriver.read_layer_sizes(self.info, wanted))
        return self._sizes

    def image_answers(
        self, image_ids: Iterable[str], content_store: Mapping[str, Any] | None
    ) -> dict[str, Answers]:
        """Inspect and history answers for the images whose files are readable and fit.

        An image whose files are missing or do not fit is left out, for the API to answer.
        """
        imagedb = None if self.containerd else graphdriver.imagedb(self.info)
        root = containerd.find_store(self.info) if content_store is not None else None
        if root is None and imagedb is None:
            return {}
        arch = str(self.info.get("Architecture") or "")
        found: dict[str, Answers] = {}
        for image_id in image_ids:
            try:
                if root is not None and content_store is not None:
                    config = containerd.read_config(root, image_id, arch)
                    sizes = content_store["snapshots"]
                else:
                    assert imagedb is not None
                    config = graphdriver.read_image_config(imagedb, image_id)
                    sizes = self.layer_sizes(chain_ids(list(config["rootfs"]["diff_ids"])))
                if config is None:
                    continue
                answers = answers_from_config(image_id, config, sizes)
            except (OSError, ValueError, TypeError, AttributeError, KeyError):
                continue
            if answers is not None:
                inspect, history = answers
                found[image_id] = (inspect, [trim_history(h, show_values=self.show_values) for h in history])
        return found
