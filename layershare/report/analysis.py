"""Logical versus physical: what is shared, what is unique, what sharing saves.

Definitions (the engine's own, so figures match ``docker system df -v``):
- an image's SIZE is the sum of its layers' sizes, as ``docker image ls`` shows;
- a layer is *shared* when more than one listed image uses it (intermediate
  images of the classic builder do not count as users on Engine 20.10 nor on
  the containerd store; on the graphdriver store from Engine 23 on, the engine
  counts them, and so does layershare there; containers never count);
- an image's *unique* bytes are its layers no other listed image uses: what
  removing only that image (and its untagged parents) would free; on the containerd store they
  also count what its hidden parents hold alone (their manifests and configs);
- *physical* bytes count each stored layer (chain ID) once.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import pandas as pd

from layershare.formats import SortKey
from layershare.report.index import LayerIndex
from layershare.report.parents import (
    hidden_parent_bytes,
    hidden_parents_notes,
    kept_by_parents_bytes,
    shared_only_with_hidden_parents,
)

_SORT_COLUMNS = {
    SortKey.UNIQUE: "unique_bytes",
    SortKey.SIZE: "size_bytes",
    SortKey.SHARED: "shared_bytes",
    SortKey.LAYERS: "layers",
    SortKey.CONTAINERS: "containers",
    SortKey.CREATED: "created",
    SortKey.REFERENCE: "reference",
}


# The totals that add up across hosts (each host's disk is its own), as reports and exports sum them.
SUMMED_TOTALS = (
    "images",
    "tags",
    "layers",
    "listed_bytes",
    "logical_bytes",
    "physical_bytes",
    "blob_bytes",
    "other_bytes",
    "duplicate_bytes",
    "step_snapshot_bytes",
)


@dataclass(frozen=True)
class Totals:
    """Host-level figures for the images a report covers.

    On the containerd store ``physical_bytes`` counts snapshots and content
    blobs (``blob_bytes`` of it); ``other_bytes`` is what the store holds for
    no image (containers' writable layers, leftovers), outside the physical figure;
    ``duplicate_bytes`` what containerd keeps twice, layers unpacked in more than one
    namespace (inside the physical figure when those namespaces are read together);
    ``step_snapshot_bytes`` the snapshots inside the images' chains that are no layer's (the classic
    builder's steps, which Engine 29.6's ``LayersSize`` counts), inside the physical figure;
    ``physical_disk_bytes`` the same blobs and snapshots as ``du`` counts them, where physical is the
    engine's measure (None elsewhere: physical is then what ``du`` counts).
    """

    images: int
    tags: int
    layers: int
    listed_bytes: int
    logical_bytes: int
    physical_bytes: int
    blob_bytes: int = 0
    other_bytes: int = 0
    duplicate_bytes: int = 0
    step_snapshot_bytes: int = 0
    physical_disk_bytes: int | None = None

    @property
    def saved_bytes(self) -> int:
        """What sharing saves: logical minus physical."""
        return self.logical_bytes - self.physical_bytes

    @property
    def sharing_ratio(self) -> float:
        """Logical over physical (1.0 when nothing is shared or nothing is stored)."""
        return self.logical_bytes / self.physical_bytes if self.physical_bytes else 1.0


@dataclass(frozen=True)
class Report:
    """Everything ``layershare report`` shows, as frames and totals."""

    index: LayerIndex
    images: pd.DataFrame
    layers: pd.DataFrame
    totals: Totals
    inexact_layers: int
    notes: tuple[str, ...] = ()


def image_usage(index: LayerIndex) -> pd.DataFrame:
    """Per image: computed size, shared and unique bytes (the engine's definitions).

    ``estimated`` is True where shared/unique depend on an estimated layer size. On the containerd
    store ``unique_bytes`` also counts ``hidden_parent_bytes``: what the image's hidden parents hold
    alone, which removing the image removes too (:func:`~layershare.report.parents.hidden_parent_bytes`).
    """
    edges = index.edges
    layers = index.layers
    sizes = edges["chain_id"].map(layers["size_bytes"]).astype("int64")
    shared = _shared(index, edges, "chain_id", layers["images"])
    frame = pd.DataFrame(
        {
            "image_id": edges["image_id"],
            "object": "layer:" + edges["chain_id"],
            "layer_bytes": sizes,
            "blob_bytes": 0,
            "shared_bytes": sizes.where(shared, 0),
        }
    )
    inexact = ~edges["chain_id"].map(layers["size_exact"]).astype(bool)
    frame["inexact_shared"] = inexact & shared
    frame["inexact_unique"] = inexact & ~shared
    # The containerd store: content blobs are stored bytes too, and the classic builder's step
    # snapshots inside an image's chain weigh with its layers.
    for objects, object_edges, column in (
        (index.blobs, index.blob_edges, "blob_bytes"),
        (index.steps, index.step_edges, "layer_bytes"),
    ):
        if not len(object_edges):
            continue
        object_sizes = object_edges["digest"].map(objects["size_bytes"]).astype("int64")
        object_shared = _shared(index, object_edges, "digest", objects["images"])
        part = pd.DataFrame(
            {
                "image_id": object_edges["image_id"],
                "object": column + ":" + object_edges["digest"],
                "layer_bytes": object_sizes if column == "layer_bytes" else 0,
                "blob_bytes": object_sizes if column == "blob_bytes" else 0,
                "shared_bytes": object_sizes.where(object_shared, 0),
                "inexact_shared": False,
                "inexact_unique": False,
            }
        )
        frame = pd.concat([frame, part], ignore_index=True)
    agg = frame.groupby("image_id").agg(
        layer_bytes=("layer_bytes", "sum"),
        blob_bytes=("blob_bytes", "sum"),
        shared_bytes=("shared_bytes", "sum"),
        inexact_shared=("inexact_shared", "sum"),
        inexact_unique=("inexact_unique", "sum"),
    )
    out = agg.reindex(index.images.index, fill_value=0).astype("int64")
    out["unique_bytes"] = out["layer_bytes"] + out["blob_bytes"] - out["shared_bytes"]
    # Estimated layers only move bytes among themselves (the image's total is
    # exact); shared and unique stay exact unless those layers fall on both sides.
    out["estimated"] = (out["inexact_shared"] > 0) & (out["inexact_unique"] > 0)
    # Where the engine's own figures are exact and the store is not read: its SIZE (snapshots and
    # content together) is what the image stores, its SHARED SIZE what it shares.
    engine = index.images["engine_shared_bytes"]
    known = engine.notna().to_numpy(dtype=bool)
    if known.any():
        sizes = index.images["size_bytes"]
        out.loc[known, "layer_bytes"] = sizes[known]
        out.loc[known, "blob_bytes"] = 0
        out.loc[known, "shared_bytes"] = engine[known].astype("int64")
        out.loc[known, "unique_bytes"] = sizes[known] - engine[known].astype("int64")
        out.loc[known, "estimated"] = False
    out["hidden_parent_bytes"] = hidden_parent_bytes(index, frame)
    out["kept_by_parents_bytes"] = kept_by_parents_bytes(index, frame).where(~known, 0)
    out["unique_bytes"] += out["hidden_parent_bytes"] - out["kept_by_parents_bytes"]
    out["shared_with_parents_bytes"] = shared_only_with_hidden_parents(index)
    return out.drop(columns=["inexact_shared", "inexact_unique"])


def _shared(index: LayerIndex, edges: pd.DataFrame, key: str, listed_users: pd.Series) -> pd.Series:
    """Per (image, object) edge: whether another image uses the object, as the engine counts users.

    Engine 20.10 and the containerd store count listed images only (``listed_users``); newer
    engines' graphdriver store counts every image, the classic builder's intermediate images included
    (:attr:`~layershare.model.EngineInfo.shares_with_intermediates`).
    """
    if index.engine.shares_with_intermediates:
        return edges[key].map(edges.groupby(key).size()) > 1
    listed_self = (~edges["image_id"].map(index.images["intermediate"]).astype(bool)).astype("int64")
    return (edges[key].map(listed_users).astype("int64") - listed_self) > 0


def _physical(index: LayerIndex, layers: pd.DataFrame, stored_bytes: int, references: tuple[str, ...]) -> int:
    """Each stored layer, blob and step snapshot once; the engine's own LayersSize where it is exact
    and the store's files are not read, for a report of every image."""
    if index.engine_layers_bytes is not None and not references:
        return index.engine_layers_bytes
    return int(layers["size_bytes"].sum()) + stored_bytes


def _stored_objects(
    index: LayerIndex, objects: pd.DataFrame, edges: pd.DataFrame, stored: pd.Index, every: bool
) -> int:
    """Bytes of the blobs (or step snapshots) the stored images use, each once; with ``every``, also
    those no image is known to use (a saved report's steps)."""
    used = edges.loc[edges["image_id"].isin(stored), "digest"].unique()
    held = objects.index.isin(used) | (every & ~objects.index.isin(edges["digest"]))
    return int(objects.loc[held, "size_bytes"].sum())


def select_images(
    index: LayerIndex, *, include_intermediate: bool = False, references: tuple[str, ...] = ()
) -> pd.Index:
    """Image IDs a report covers: listed ones (plus intermediates), filtered by reference globs.

    A glob matches a tag (``app:*``, ``*/team/*``), a digest, or the start of the image ID.
    """
    images = index.images
    mask = pd.Series(True, index=images.index) if include_intermediate else ~images["intermediate"]
    if references:

        def matches(row: pd.Series) -> bool:
            names = [*row["tags"], *row["digests"]]
            image_id = str(row.name)
            return any(
                any(fnmatch.fnmatchcase(n, pattern) for n in names)
                or image_id.removeprefix("sha256:").startswith(pattern.removeprefix("sha256:"))
                for pattern in references
            )

        mask &= images.apply(matches, axis=1).astype(bool) if len(images) else mask
    return images.index[mask.to_numpy(dtype=bool)]


def build_report(
    index: LayerIndex,
    *,
    include_intermediate: bool = False,
    references: tuple[str, ...] = (),
    sort: SortKey = SortKey.UNIQUE,
) -> Report:
    """Compute the images table, the layers table and the totals for the selected images."""
    selected = select_images(index, include_intermediate=include_intermediate, references=references)
    usage = image_usage(index)
    images = index.images.loc[selected].join(
        usage[
            [
                "layer_bytes",
                "blob_bytes",
                "shared_bytes",
                "unique_bytes",
                "hidden_parent_bytes",
                "kept_by_parents_bytes",
                "shared_with_parents_bytes",
                "estimated",
            ]
        ]
    )
    column = _SORT_COLUMNS[sort]
    images = images.sort_values(
        [column, "size_bytes"], ascending=[sort is SortKey.REFERENCE, False], kind="stable"
    )
    used = index.edges.loc[index.edges["image_id"].isin(selected), "chain_id"].unique()
    layers = index.layers.loc[used].sort_values(["images", "size_bytes"], ascending=False, kind="stable")
    listed = images.loc[~images["intermediate"]]
    rows = listed["tags"].map(len).clip(lower=1)
    # Every image's own blobs are stored, the classic builder's intermediate images' included, unless
    # the report is of some images only.
    stored = selected if references else index.images.index
    blob_bytes = _stored_objects(index, index.blobs, index.blob_edges, stored, False)
    step_bytes = _stored_objects(index, index.steps, index.step_edges, stored, not references)
    totals = Totals(
        images=len(listed),
        tags=int(listed["tags"].map(len).sum()),
        layers=len(layers),
        listed_bytes=int((listed["size_bytes"] * rows).sum()),
        logical_bytes=int(listed["size_bytes"].sum()),
        physical_bytes=_physical(index, layers, blob_bytes + step_bytes, references),
        blob_bytes=blob_bytes,
        other_bytes=index.other_bytes,
        duplicate_bytes=index.duplicate_bytes,
        step_snapshot_bytes=step_bytes,
        physical_disk_bytes=None if references else index.disk_bytes,
    )
    return Report(
        index=index,
        images=images,
        layers=layers,
        totals=totals,
        inexact_layers=int((~layers["size_exact"]).sum()),
        notes=index.notes + hidden_parents_notes(listed),
    )


def image_history(index: LayerIndex, image_id: str) -> pd.DataFrame:
    """One image's layers, oldest first: instruction, size, chain ID and sharing.

    ``shared_with`` is how many other listed images use the layer.
    """
    edges = index.edges.loc[index.edges["image_id"] == image_id].sort_values("position")
    layers = index.layers.loc[edges["chain_id"]]
    self_listed = int(not bool(index.images.at[image_id, "intermediate"]))
    return pd.DataFrame(
        {
            "position": edges["position"].to_numpy(),
            "created_by": layers["created_by"].to_numpy(),
            "comment": layers["comment"].to_numpy(),
            "size_bytes": layers["size_bytes"].to_numpy(),
            "chain_id": edges["chain_id"].to_numpy(),
            "diff_id": layers["diff_id"].to_numpy(),
            "shared_with": (layers["images"] - self_listed).clip(lower=0).to_numpy(),
            "size_exact": layers["size_exact"].to_numpy(),
            "created_by_exact": layers["created_by_exact"].to_numpy(),
        }
    )


def find_image(index: LayerIndex, name: str) -> str | None:
    """Resolve a reference (tag, ``repo`` meaning ``repo:latest``, digest or ID prefix) to an image ID."""
    images = index.images
    wanted = {name, f"{name}:latest"} if ":" not in name.rsplit("/", 1)[-1] and "@" not in name else {name}
    for image_id, tags, digests in zip(images.index, images["tags"], images["digests"], strict=True):
        if wanted & set(tags) or wanted & set(digests):
            return str(image_id)
    prefix = name.removeprefix("sha256:")
    if len(prefix) >= 4:
        hits = [str(i) for i in images.index if str(i).removeprefix("sha256:").startswith(prefix)]
        if len(hits) == 1:
            return hits[0]
    return None
