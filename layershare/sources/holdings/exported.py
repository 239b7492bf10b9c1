"""The containerd store as a removal sees it through the engine's API alone (the ``docker`` group):
each image's layer snapshots, the classic builder's step snapshots and content blobs, weighed as the
report weighed them from the engine's export (:mod:`layershare.sources.recording.exported`).

What the engine counts, by version (:func:`~layershare.sources.stores.measure.layers_size_rule`):
from 28.2 each blob while an image reaches it; from 29.6 each snapshot of an image's chain while an image
stands on it; before 29.6 every snapshot while anything keeps it, containers' own among them (a
container's writable snapshot weighs its ``SizeRw``, its init snapshot the rest of its ``SizeRootFs``).

What the API does not say: which layers BuildKit's records keep. A record the engine calls shared turns
unshared, and counts at its size, once no image lists its layers; before 29.6 a snapshot an image and a
record both keep stays counted when the image goes. Removing an image BuildKit built may so free less
than the figure: :func:`buildkit_uncertain` bounds by how much, and ``free`` gives the range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layershare.model import Snapshot
from layershare.model.holdings import StoredUnit
from layershare.sources.stores.measure import LayersSizeRule

BUILDKIT_COMMENT = "buildkit"


def exported_units(
    rule: LayersSizeRule,
    snapshot: Snapshot,
    containers_json: list[dict[str, Any]],
    df: Mapping[str, Any],
    units: dict[str, StoredUnit],
    paths: dict[str, tuple[str, ...]],
) -> dict[str, tuple[str, ...]]:
    """Who holds what, from the report's collection: each image its chain's snapshots, its steps and
    its blobs; each container its image's snapshots (and before 29.6 its own); each build-cache record
    itself, at its size unless the engine calls it shared. Fills ``units`` and ``paths`` (none: the
    files are not read); returns each holder's units."""
    with_images = rule == "image_chains_and_content"
    layers = {layer.chain_id: layer.size_bytes for layer in snapshot.layers}
    steps = {step.digest: step.size_bytes for step in snapshot.steps}
    blobs = {blob.digest: blob.size_bytes for blob in snapshot.blobs}

    def unit(key: str, kind: Any, size: int, counted_with_images: bool) -> str:
        if key not in units:
            units[key] = StoredUnit(key, kind, size, None, counted_with_images=counted_with_images)
            paths[key] = ()
        return key

    holds: dict[str, tuple[str, ...]] = {}
    chains: dict[str, tuple[str, ...]] = {}
    for image in snapshot.images:
        chain = [unit(f"snapshot:{c}", "snapshot", layers.get(c, 0), with_images) for c in image.chain_ids]
        chain += [
            unit(f"snapshot:{s}", "snapshot", steps[s], with_images)
            for s in image.step_snapshots
            if s in steps
        ]
        chains[image.id] = tuple(chain)
        own = [unit(f"blob:{d}", "blob", blobs[d], True) for d in image.blob_digests if d in blobs]
        holds[f"image:{image.id}"] = (*chain, *own)
    sizes = {str(c["Id"]): c for c in df.get("Containers") or []}
    for c in containers_json:
        cid = str(c["Id"])
        held = chains.get(str(c.get("ImageID") or ""), ())
        if not with_images and cid in sizes:  # LayersSize counts the container's own snapshots too
            rw = int(sizes[cid].get("SizeRw") or 0)
            below = sum(units[k].bytes for k in held)
            init = max(int(sizes[cid].get("SizeRootFs") or 0) - rw - below, 0)
            held = (
                unit(f"snapshot:{cid}", "snapshot", rw, False),
                unit(f"snapshot:{cid}-init", "snapshot", init, False),
                *held,
            )
        holds[f"container:{cid}"] = held
    for r in df.get("BuildCache") or []:
        key = f"build:{r.get('ID')}"
        size = 0 if r.get("Shared") else int(r.get("Size") or 0)
        holds[key] = (unit(key, "build_cache", size, False),)
    return holds


def buildkit_uncertain(
    rule: LayersSizeRule,
    snapshot: Snapshot,
    df: Mapping[str, Any],
    holds: Mapping[str, tuple[str, ...]],
    units: Mapping[str, StoredUnit],
) -> dict[str, tuple[int, int]]:
    """What the API leaves open, as (may free less by, may free more by), keyed by holder or unit:

    - an image BuildKit built (its history says so): every record the engine calls shared may turn
      unshared, and count, once it is gone (at most once in all: ``free`` caps the holders' sum);
    - before 29.6, each snapshot of such an image may stay counted, kept by a record; and a record's own
      snapshots, which a prune of it takes, leave ``LayersSize`` too (at most its size).
    """
    records = list(df.get("BuildCache") or [])
    shared = sum(int(r.get("Size") or 0) for r in records if r.get("Shared"))
    every_snapshot = rule != "image_chains_and_content"
    found: dict[str, tuple[int, int]] = {}
    if every_snapshot:
        for r in records:
            found[f"build:{r.get('ID')}"] = (0, int(r.get("Size") or 0))
    for image in snapshot.images:
        if not built_by_buildkit(image.history):
            continue
        if shared:
            found[f"image:{image.id}"] = (shared, 0)
        if every_snapshot and records:
            for key in holds.get(f"image:{image.id}", ()):
                if key.startswith("snapshot:"):
                    found[key] = (units[key].bytes, 0)
    return {k: v for k, v in found.items() if v != (0, 0)}


def built_by_buildkit(history: Any) -> bool:
    """Whether an image's history says BuildKit made it (its instructions' comment)."""
    return any(BUILDKIT_COMMENT in entry.comment for entry in history)


def exported_note(uncertain: Mapping[str, tuple[int, int]]) -> str:
    """What ``free`` says of a state made from the engine's answers alone."""
    note = (
        "the data root is not readable from here: freed_bytes counts the store's snapshots and content "
        "blobs as the engine does, from its export and history; freed_disk_bytes needs root on the "
        "engine's host"
    )
    if uncertain:
        note += (
            "; which layers BuildKit's build cache keeps is not in the engine's answers, so what removing "
            "an image BuildKit built (or pruning the build cache) frees is given as a range "
            "(freed_min_bytes to freed_max_bytes)"
        )
    return note
