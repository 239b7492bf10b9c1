"""The containerd store as the engine answers a user who may open its socket but not read its files
(the ``docker`` group): content blobs from the export (:mod:`layershare.sources.engine.content`), each
layer's snapshot from history, the classic builder's step snapshots from each image's SIZE. Made into the
same shape the store's own files give (``content_store`` of a recording), in the engine's own measure.

- A blob weighs its length, as ``LayersSize`` counts it (from Engine 28.2).
- A layer's snapshot weighs history's figure for it: the usage containerd recorded when it was committed,
  as the engine counts it.
- The classic builder commits a snapshot for each step, between the layers' own; an image's chain walks
  through them and its SIZE counts them. Each manifest's ``Size.Total`` less its ``Size.Content`` is the
  usage of its chain, steps included, so an image's steps weigh that less its layers' snapshots. Steps
  images share are found by their tops: the steps below a layer are those of the image whose top layer
  it is, less those of the one whose top is the nearest layer below. Where no image ends at a layer
  two chains branch from, the steps there cannot be told apart: a note says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from layershare.ids import short_id

EXPORTED_NOTE = (
    "containerd image store, read through the engine's API (the store's files are not readable from "
    "here): content blobs are weighed from the engine's export, read once per image and cached, and "
    "snapshots from history, both in the engine's own measure"
)


def store_from_export(
    exported: Mapping[str, Mapping[str, Any]],
    chains: Mapping[str, tuple[str, ...]],
    layer_bytes: Mapping[str, int],
    summaries: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, Any], list[str]]:
    """A ``content_store`` from the export (``exported``), each image's chain, each chain ID's snapshot
    bytes and the image list's summaries; and notes on what it cannot tell."""
    blobs: dict[str, dict[str, Any]] = {}
    images: dict[str, dict[str, Any]] = {}
    for image_id, entry in exported.items():
        for digest, (length, kind) in entry["blobs"].items():
            blobs.setdefault(digest, {"size": int(length), "bytes": int(length), "kind": str(kind)})
        images[image_id] = {
            "blobs": list(entry["blobs"]),
            "layer_blobs": list(entry.get("layer_blobs") or ()),
            "platforms": list(entry.get("platforms") or ()),
        }
    steps, weights, notes = step_snapshots(
        {i: c for i, c in chains.items() if i in images}, layer_bytes, summaries
    )
    for image_id, names in steps.items():
        images[image_id]["steps"] = names
    missing = [i for i in chains if i not in images]
    if missing:
        notes.append(
            f"{len(missing)} image(s) were not in the engine's export (removed meanwhile, or the export "
            "failed): their content blobs are not counted, so their figures are estimates"
        )
    store = {
        "blobs": blobs,
        "images": images,
        "snapshots": dict(layer_bytes),
        "snapshot_bytes": dict(layer_bytes),
        "step_snapshots": {name: {"bytes": b, "size": b} for name, b in weights.items()},
        "exported": True,
    }
    return store, notes


def chain_usage(summary: Mapping[str, Any]) -> int | None:
    """What the engine's SIZE of an image counts of snapshots: each manifest's ``Size.Total`` less its
    ``Size.Content``; None where the list gives no manifests or more than one manifest has a chain."""
    manifests = summary.get("Manifests")
    if not isinstance(manifests, list) or not manifests:
        return None
    parts = [
        int((m.get("Size") or {}).get("Total") or 0) - int((m.get("Size") or {}).get("Content") or 0)
        for m in manifests
    ]
    unpacked = [p for p in parts if p]
    return sum(unpacked) if len(unpacked) <= 1 else None


def step_snapshots(
    chains: Mapping[str, Sequence[str]],
    layer_bytes: Mapping[str, int],
    summaries: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, list[str]], dict[str, int], list[str]]:
    """Each image's step-snapshot units (``steps below <chain ID>``), each unit's bytes, and notes."""
    notes: list[str] = []
    below_top: dict[str, int] = {}  # top chain ID -> the steps its image's chain walks through
    for image_id, chain in chains.items():
        usage = chain_usage(summaries.get(image_id) or {})
        if not chain or usage is None:
            continue
        steps = usage - sum(int(layer_bytes.get(c, 0)) for c in chain)
        known = below_top.setdefault(chain[-1], steps)
        if known != steps or steps < 0:
            notes.append(
                f"image {short_id(image_id)}: its SIZE does not add up to its layers' snapshots and "
                "blobs; its step snapshots are estimates"
            )
    units: dict[str, list[str]] = {}
    weights: dict[str, int] = {}
    owner: dict[str, str] = {}  # a chain ID inside a lump -> the lump's unit
    ambiguous: set[str] = set()
    for image_id, chain in chains.items():
        names: list[str] = []
        below, inside = 0, []
        for c in chain:
            if c not in below_top:
                inside.append(c)
                continue
            name = f"steps below {c}"
            for member in inside:
                if owner.setdefault(member, name) != name:
                    ambiguous.add(member)
            part = below_top[c] - below
            if part:
                weights[name] = max(part, 0)
                names.append(name)
            below, inside = below_top[c], []
        units[image_id] = names
    if ambiguous:
        notes.append(
            f"the classic builder's step snapshots below {len(ambiguous)} layer(s) several images stand on "
            "cannot be told apart from the engine's answers (no image ends there): each image's share of "
            "them is an estimate; run as root on the engine's host for the store's own figures"
        )
    return units, weights, notes
