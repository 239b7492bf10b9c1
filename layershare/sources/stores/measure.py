"""What an engine's ``LayersSize`` adds up on the containerd image store: the one place that says it,
by engine version, read from moby's ``daemon/containerd/service.go`` at each tag and checked on real
engines.

- before 28.2: every snapshot of the engine's namespace, at the usage containerd reports (its
  containers' writable snapshots too), and no content blob;
- from 28.2: that, plus every content blob an image reaches (index, manifests, configs, layers)
  at its descriptor's size, each once;
- from 29.6: the snapshots of the images' own layer chains (each once; no container's) plus that
  content.

On a graphdriver store ``LayersSize`` is the layer store's recorded sizes of the layers images use,
at every version layershare reads. Which engines' image lists layershare can make from containerd's
records is said here too (:func:`image_list_known`).
"""

from __future__ import annotations

from typing import Literal

from layershare.model import version_tuple

LayersSizeRule = Literal["all_snapshots", "all_snapshots_and_content", "image_chains_and_content"]


def layers_size_rule(engine_version: str) -> LayersSizeRule:
    """What ``LayersSize`` counts on the containerd store of a Docker Engine of this version."""
    version = version_tuple(engine_version)
    if version >= (29, 6):
        return "image_chains_and_content"
    if version >= (28, 2):
        return "all_snapshots_and_content"
    return "all_snapshots"


def image_list_known(engine_version: str) -> bool:
    """Whether layershare knows how this engine lists its images on the containerd store (sizes and all,
    :mod:`~layershare.sources.stores.image_list`): moby's rules are the same from 29.6 through 29.7.2,
    and a later engine's are not known until read."""
    return (29, 6) <= version_tuple(engine_version) <= (29, 7)


def counts_as_engine(engine_version: str) -> bool:
    """Whether layershare's physical bytes can be the engine's own measure: ``LayersSize`` counts
    exactly the images' snapshots and content (Engine 29.6 and later)."""
    return layers_size_rule(engine_version) == "image_chains_and_content"


def layers_size_note(engine_version: str) -> str:
    """What the engine's images SIZE (``LayersSize``) counts on the containerd store, for ``disk``'s notes."""
    counted = {
        "all_snapshots": "every snapshot, containers' writable layers included (counted again under "
        "containers), and no content blob",
        "all_snapshots_and_content": "every snapshot, containers' writable layers included (counted again "
        "under containers), and the images' content blobs",
        "image_chains_and_content": "the snapshots of the images' layer chains and their content blobs, "
        "each once",
    }[layers_size_rule(engine_version)]
    return (
        f"containerd image store: Engine {engine_version}'s images SIZE (LayersSize) counts {counted}; "
        "ON DISK counts each byte once"
    )
