"""The layer index: the model as pandas frames, one row per image, layer and edge.

``images``  one row per image ID (index ``image_id``); ``base_label`` is the
            image's ``org.opencontainers.image.base.name`` label, if any.
``layers``  one row per stored layer, keyed by chain ID (index ``chain_id``),
            with ``images``: how many listed images use it.
``edges``   one row per (image, layer): ``image_id``, ``chain_id``, ``position``
            (0 = the base layer).
``blobs``   containerd store only: one row per content blob (index ``digest``):
            ``size_bytes``, ``kind``, ``images`` (listed images using it, and images of
            containerd namespaces not read that use it too).
``blob_edges``  one row per (image, blob): ``image_id``, ``digest``.
``steps``, ``step_edges``  the same for the snapshots inside images' chains that are no layer's (the
            classic builder's steps on Engine 29.6+'s containerd store), keyed by snapshot name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain as concat

import pandas as pd

from layershare.ids import split_namespace
from layershare.model import Blob, EngineInfo, Image, Snapshot

BASE_NAME_LABEL = "org.opencontainers.image.base.name"


def _reference(image: Image) -> str:
    """What tables and pictures call an image: its references, and its containerd namespace where the
    snapshot holds several (the same tag can be in two)."""
    namespace, _ = split_namespace(image.id)
    names = ", ".join(image.references)
    return f"{names} ({namespace})" if namespace else names


@dataclass(frozen=True)
class LayerIndex:
    """Frames built once from a :class:`Snapshot`; see the module docstring."""

    engine: EngineInfo
    images: pd.DataFrame
    layers: pd.DataFrame
    edges: pd.DataFrame
    notes: tuple[str, ...]
    collected_at: str
    blobs: pd.DataFrame
    blob_edges: pd.DataFrame
    steps: pd.DataFrame
    step_edges: pd.DataFrame
    other_bytes: int = 0
    duplicate_bytes: int = 0
    disk_bytes: int | None = None
    engine_layers_bytes: int | None = None

    @cached_property
    def chains(self) -> pd.Series:
        """Each image's chain IDs, base layer first (index ``image_id``), grouped once."""
        return (
            self.edges.sort_values("position", kind="stable")
            .groupby("image_id", sort=False)["chain_id"]
            .agg(tuple)
        )

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> LayerIndex:
        """Index a snapshot."""
        imgs = snapshot.images
        images = pd.DataFrame(
            {
                "image_id": [i.id for i in imgs],
                "tags": [list(i.tags) for i in imgs],
                "digests": [list(i.digests) for i in imgs],
                "reference": [_reference(i) for i in imgs],
                "created": [i.created for i in imgs],
                "size_bytes": pd.array([i.size_bytes for i in imgs], dtype="int64"),
                "layers": pd.array([len(i.chain_ids) for i in imgs], dtype="int64"),
                "containers": pd.array([i.containers for i in imgs], dtype="int64"),
                "intermediate": pd.array([i.intermediate for i in imgs], dtype="bool"),
                "parent_id": [i.parent_id for i in imgs],
                "dangling": pd.array([i.dangling for i in imgs], dtype="bool"),
                "base_label": [dict(i.labels).get(BASE_NAME_LABEL) for i in imgs],
                "platforms": [list(i.platforms) for i in imgs],
                "engine_shared_bytes": pd.array([i.engine_shared_bytes for i in imgs], dtype="Int64"),
                "content_bytes": pd.array([i.content_bytes for i in imgs], dtype="Int64"),
            }
        ).set_index("image_id")
        counts = [len(i.chain_ids) for i in imgs]
        edges = pd.DataFrame(
            {
                "image_id": list(concat.from_iterable([i.id] * n for i, n in zip(imgs, counts, strict=True))),
                "chain_id": list(concat.from_iterable(i.chain_ids for i in imgs)),
                "position": pd.array(list(concat.from_iterable(range(n) for n in counts)), dtype="int64"),
            }
        )
        lays = snapshot.layers
        layers = pd.DataFrame(
            {
                "chain_id": [la.chain_id for la in lays],
                "diff_id": [la.diff_id for la in lays],
                "parent_chain_id": [la.parent_chain_id for la in lays],
                "size_bytes": pd.array([la.size_bytes for la in lays], dtype="int64"),
                "created_by": [la.created_by for la in lays],
                "comment": [la.comment for la in lays],
                "size_exact": pd.array([la.size_exact for la in lays], dtype="bool"),
                "created_by_exact": pd.array([la.created_by_exact for la in lays], dtype="bool"),
                "blob_bytes": pd.array([la.blob_bytes for la in lays], dtype="Int64"),
            }
        ).set_index("chain_id")
        listed = edges["image_id"].map(~images["intermediate"])
        users = edges.loc[listed.astype(bool)].groupby("chain_id").size()
        layers["images"] = users.reindex(layers.index, fill_value=0).astype("int64")
        blob_edges = _edges(imgs, [i.blob_digests for i in imgs])
        blobs = _objects_frame(snapshot.blobs, blob_edges, images)
        step_edges = _edges(imgs, [i.step_snapshots for i in imgs])
        return cls(
            blobs=blobs,
            blob_edges=blob_edges,
            other_bytes=snapshot.other_bytes,
            duplicate_bytes=snapshot.duplicate_bytes,
            steps=_objects_frame(snapshot.steps, step_edges, images),
            step_edges=step_edges,
            disk_bytes=snapshot.disk_bytes,
            engine_layers_bytes=snapshot.engine_layers_bytes,
            engine=snapshot.engine,
            images=images,
            layers=layers,
            edges=edges,
            notes=snapshot.notes,
            collected_at=snapshot.collected_at,
        )


def _edges(imgs: Sequence[Image], objects: Sequence[Sequence[str]]) -> pd.DataFrame:
    """One row per (image, object it uses): ``image_id``, ``digest``."""
    counts = [len(o) for o in objects]
    return pd.DataFrame(
        {
            "image_id": list(concat.from_iterable([i.id] * n for i, n in zip(imgs, counts, strict=True))),
            "digest": list(concat.from_iterable(objects)),
        }
    )


def _objects_frame(objects: Sequence[Blob], edges: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    """Content blobs (or step snapshots) by digest: size, kind, and how many listed images use each
    (plus the images of other namespaces that use a blob)."""
    frame = pd.DataFrame(
        {
            "digest": [b.digest for b in objects],
            "size_bytes": pd.array([b.size_bytes for b in objects], dtype="int64"),
            "kind": [b.kind for b in objects],
        }
    ).set_index("digest")
    listed = edges["image_id"].map(~images["intermediate"]).astype(bool)
    users = edges.loc[listed].groupby("digest").size()
    elsewhere = pd.Series([b.users_elsewhere for b in objects], index=frame.index, dtype="int64")
    frame["images"] = users.reindex(frame.index, fill_value=0).astype("int64") + elsewhere
    return frame
