"""What an image configuration (the JSON an image ID or a manifest's config names) says, read alike by
every source that reads configurations itself: image archives and containerd's content store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from layershare.model import OCI_LABEL_PREFIX, HistoryEntry
from layershare.times import unix_time


def config_history(
    config: Mapping[str, Any], layer_sizes: Sequence[int]
) -> tuple[tuple[HistoryEntry, ...], tuple[int, ...]]:
    """The configuration's history, oldest first, and which entry made each layer.

    The ``empty_layer`` flags say exactly which entries made layers; each such entry carries its
    layer's size from ``layer_sizes``. When the flags do not fit the layers, no entry is tied to a
    layer (the second part is empty) and every size is 0.
    """
    raw = config.get("history")
    if not isinstance(raw, list) or not all(isinstance(h, Mapping) for h in raw):
        return (), ()
    makes_layer = [not h.get("empty_layer") for h in raw]
    fits = sum(makes_layer) == len(layer_sizes)
    sizes = iter(layer_sizes)
    entries = tuple(
        HistoryEntry(
            created=unix_time(h.get("created")),
            created_by=str(h.get("created_by") or ""),
            size_bytes=next(sizes) if fits and made else 0,
            comment=str(h.get("comment") or ""),
            makes_layer=made if fits else None,
        )
        for h, made in zip(raw, makes_layer, strict=True)
    )
    layer_entries = tuple(i for i, made in enumerate(makes_layer) if made) if fits else ()
    return entries, layer_entries


def oci_labels(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The configuration's ``org.opencontainers.image.*`` labels: the only labels layershare keeps."""
    labels = (config.get("config") or {}).get("Labels") or {}
    if not isinstance(labels, Mapping):
        return ()
    return tuple(sorted((str(k), str(v)) for k, v in labels.items() if str(k).startswith(OCI_LABEL_PREFIX)))


def diff_ids(config: Mapping[str, Any]) -> list[str] | None:
    """The configuration's ``rootfs.diff_ids``, or None where it has none that can be read."""
    found = (config.get("rootfs") or {}).get("diff_ids")
    if not isinstance(found, list) or not all(isinstance(d, str) for d in found):
        return None
    return found
