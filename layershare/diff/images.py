"""What changed: one image against another, or one host's images against another time's.

Two images are compared layer by layer. A layer is *common* when both images have its
chain ID: the same content on the same base, stored once. Chain IDs name a layer and
everything below it, so the common layers are the bottom of both stacks; above them each
image has its own layers. A layer of one image with the same content (diff ID) as a layer
of the other, but on another base, is still stored twice: it is said so, not counted common.
``size_change_bytes`` is NEW's size minus OLD's as the engine sizes them (``docker image ls``).

Two hosts (saved reports, recordings, engines) are compared image by image and layer by layer:
images added, removed, retagged (same image, other tags) and grown or shrunk (a tag now names another
image), the stored layers that appeared and disappeared, and the change of every total.
(Two saved disks: :mod:`layershare.disk.saved_diff`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from layershare.diff.files import FileChanges
from layershare.model import NO_CHAIN_NOTE, EngineInfo
from layershare.report.analysis import Totals, image_history
from layershare.report.index import LayerIndex


@dataclass(frozen=True)
class DiffLayer:
    """A layer as a diff shows it; ``position`` counts from the image's base (0).

    ``same_content_as`` is the position of a layer of the other image with the same diff ID
    on another base (so stored twice), None when there is none. On a host diff ``position``
    is None and ``images`` says how many listed images use the layer.
    """

    chain_id: str
    diff_id: str
    size_bytes: int
    created_by: str
    position: int | None = None
    same_content_as: int | None = None
    images: int | None = None


@dataclass(frozen=True)
class ImageSide:
    """One image of a diff: where it was read (``label``), the engine's size and its layers, base first.

    ``layers_known`` is False for an image of a report written before images had ``chain_ids``.
    ``name`` is how outputs call it: the tag the user named, else its first tag, else the label.
    """

    label: str
    source: str
    image_id: str
    tags: tuple[str, ...]
    size_bytes: int
    layers: tuple[DiffLayer, ...]
    layers_known: bool = True
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.tags[0] if self.tags else self.label)


class LayerChanges:
    """What both kinds of diff have: the layers only NEW has (added) and only OLD has (removed)."""

    added_layers: tuple[DiffLayer, ...]
    removed_layers: tuple[DiffLayer, ...]

    @property
    def added_bytes(self) -> int:
        """Bytes of the layers only NEW has (on a host: the stored layers that appeared)."""
        return sum(layer.size_bytes for layer in self.added_layers)

    @property
    def removed_bytes(self) -> int:
        """Bytes of the layers only OLD has (on a host: the stored layers that went)."""
        return sum(layer.size_bytes for layer in self.removed_layers)


@dataclass(frozen=True)
class ImageDiff(LayerChanges):
    """NEW against OLD: the common layers, the layers only in each, and the files when read."""

    old: ImageSide
    new: ImageSide
    common_layers: int
    added_layers: tuple[DiffLayer, ...]
    removed_layers: tuple[DiffLayer, ...]
    files: FileChanges | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def size_change_bytes(self) -> int:
        """NEW's size minus OLD's, as the engine sizes them."""
        return self.new.size_bytes - self.old.size_bytes

    @property
    def size_change_ratio(self) -> float | None:
        """The change over OLD's size (None when OLD is empty)."""
        return self.size_change_bytes / self.old.size_bytes if self.old.size_bytes else None


def image_row(index: LayerIndex, image_id: str) -> dict[str, Any]:
    """One image's row of the index as a plain mapping."""
    return {str(k): v for k, v in index.images.loc[image_id].to_dict().items()}


def image_side(index: LayerIndex, image_id: str, label: str, prefer: tuple[str, ...] = ()) -> ImageSide:
    """One image of an index as a diff side, named by the first of ``prefer`` (then ``label``) it is tagged with."""
    history = image_history(index, image_id)
    layers = tuple(
        DiffLayer(
            chain_id=str(row["chain_id"]),
            diff_id=str(row["diff_id"]),
            size_bytes=int(row["size_bytes"]),
            created_by=str(row["created_by"]),
            position=int(row["position"]),
        )
        for row in history.to_dict("records")
    )
    image = image_row(index, image_id)
    no_chain = int(image["layers"]) == 0 and any(NO_CHAIN_NOTE in n for n in index.notes)
    return ImageSide(
        label=label,
        source=index.engine.host,
        image_id=image_id,
        tags=tuple(image["tags"]),
        size_bytes=int(image["size_bytes"]),
        layers=layers,
        layers_known=not no_chain,
        name=next((t for t in (*prefer, label) if t in image["tags"]), ""),
    )


def diff_images(old: ImageSide, new: ImageSide, files: FileChanges | None = None) -> ImageDiff:
    """Compare two images layer by layer."""
    old_chain = {layer.chain_id for layer in old.layers}
    new_chain = {layer.chain_id for layer in new.layers}
    removed = [layer for layer in old.layers if layer.chain_id not in new_chain]
    added_raw = [layer for layer in new.layers if layer.chain_id not in old_chain]
    removed_by_diff = {layer.diff_id: layer.position for layer in removed}
    added_by_diff = {layer.diff_id: layer.position for layer in added_raw}
    added = [_with_twin(layer, removed_by_diff) for layer in added_raw]
    removed = [_with_twin(layer, added_by_diff) for layer in removed]
    notes = []
    twins = [layer for layer in added if layer.same_content_as is not None]
    if twins:
        notes.append(
            f"{len(twins)} layer(s) of {new.name} have the same content as a layer of {old.name} on another "
            f"base, so both are stored ({sum(t.size_bytes for t in twins)} bytes twice): rebuilding on the "
            "same base would share them"
        )
    for side in (old, new):
        if not side.layers_known:
            notes.append(
                f"{side.label}: the report has no chain_ids for this image; its layers are not compared"
            )
    return ImageDiff(
        old=old,
        new=new,
        common_layers=len(old_chain & new_chain),
        added_layers=tuple(added),
        removed_layers=tuple(removed),
        files=files,
        notes=tuple(notes),
    )


def _with_twin(layer: DiffLayer, others: dict[str, int | None]) -> DiffLayer:
    if layer.diff_id not in others:
        return layer
    from dataclasses import replace

    return replace(layer, same_content_as=others[layer.diff_id])


# --- two hosts ---


@dataclass(frozen=True)
class HostSide:
    """One host at one time: its index and its totals (a saved report's own, else computed)."""

    label: str
    index: LayerIndex
    totals: Totals

    @property
    def engine(self) -> EngineInfo:
        """The engine the side was read from."""
        return self.index.engine


ChangeKind = Literal["added", "removed", "retagged", "grown", "shrunk", "rebuilt"]


@dataclass(frozen=True)
class ImageChange:
    """One image-level change between two hosts.

    ``added``/``removed``: an image ID on one side only; ``retagged``: the same image ID with
    other tags; ``grown``/``shrunk``/``rebuilt`` (the same size): ``tag`` names another image now
    (``size_change_bytes`` NEW minus OLD).
    """

    kind: ChangeKind
    reference: str
    old_id: str | None
    new_id: str | None
    old_bytes: int | None
    new_bytes: int | None
    old_tags: tuple[str, ...] = ()
    new_tags: tuple[str, ...] = ()

    @property
    def size_change_bytes(self) -> int:
        """NEW's bytes minus OLD's (a missing side counts 0)."""
        return (self.new_bytes or 0) - (self.old_bytes or 0)


TOTAL_KEYS = ("images", "tags", "layers", "listed_bytes", "logical_bytes", "physical_bytes", "saved_bytes")


@dataclass(frozen=True)
class HostDiff(LayerChanges):
    """Two hosts compared; ``size_change_bytes`` is the physical change."""

    old: HostSide
    new: HostSide
    images: tuple[ImageChange, ...]
    common_layers: int
    added_layers: tuple[DiffLayer, ...]
    removed_layers: tuple[DiffLayer, ...]
    notes: tuple[str, ...] = ()

    @property
    def size_change_bytes(self) -> int:
        """NEW's physical bytes minus OLD's."""
        return self.new.totals.physical_bytes - self.old.totals.physical_bytes

    def totals_change(self) -> dict[str, int]:
        """Every total, NEW minus OLD."""
        return {
            key: int(getattr(self.new.totals, key)) - int(getattr(self.old.totals, key)) for key in TOTAL_KEYS
        }


def _listed(index: LayerIndex) -> pd.DataFrame:
    images = index.images
    return images.loc[~images["intermediate"].to_numpy(dtype=bool)]


def _stored(index: LayerIndex, image_ids: pd.Index) -> pd.DataFrame:
    used = index.edges.loc[index.edges["image_id"].isin(image_ids), "chain_id"].unique()
    return index.layers.loc[used]


def diff_hosts(old: HostSide, new: HostSide) -> HostDiff:
    """Compare two hosts' listed images and the layers they store."""
    old_images, new_images = _listed(old.index), _listed(new.index)
    changes: list[ImageChange] = []
    for image_id in new_images.index.difference(old_images.index, sort=False):
        changes.append(_one_side("added", new_images.loc[image_id].to_dict(), str(image_id)))
    for image_id in old_images.index.difference(new_images.index, sort=False):
        changes.append(_one_side("removed", old_images.loc[image_id].to_dict(), str(image_id)))
    for image_id in old_images.index.intersection(new_images.index, sort=False):
        before, after = old_images.loc[image_id], new_images.loc[image_id]
        if sorted(before["tags"]) != sorted(after["tags"]):
            size = int(after["size_bytes"])
            changes.append(
                ImageChange(
                    "retagged",
                    after["reference"],
                    str(image_id),
                    str(image_id),
                    size,
                    size,
                    tuple(before["tags"]),
                    tuple(after["tags"]),
                )
            )
    old_by_tag = {t: i for i, tags in zip(old_images.index, old_images["tags"], strict=True) for t in tags}
    for image_id, tags in zip(new_images.index, new_images["tags"], strict=True):
        for tag in tags:
            was = old_by_tag.get(tag)
            if was is not None and was != image_id:
                before, after = old_images.loc[was].to_dict(), new_images.loc[image_id].to_dict()
                grown = int(after["size_bytes"]) - int(before["size_bytes"])
                changes.append(
                    ImageChange(
                        "grown" if grown > 0 else "shrunk" if grown < 0 else "rebuilt",
                        tag,
                        str(was),
                        str(image_id),
                        int(before["size_bytes"]),
                        int(after["size_bytes"]),
                        tuple(before["tags"]),
                        tuple(tags),
                    )
                )
    old_layers, new_layers = _stored(old.index, old_images.index), _stored(new.index, new_images.index)
    appeared = new_layers.index.difference(old_layers.index, sort=False)
    gone = old_layers.index.difference(new_layers.index, sort=False)
    notes = [f"{side.label}: {n}" for side in (old, new) for n in side.index.notes if NO_CHAIN_NOTE in n]
    return HostDiff(
        old=old,
        new=new,
        images=tuple(sorted(changes, key=lambda c: (-abs(c.size_change_bytes), c.kind, c.reference))),
        common_layers=len(new_layers.index.intersection(old_layers.index)),
        added_layers=_host_layers(new_layers.loc[appeared]),
        removed_layers=_host_layers(old_layers.loc[gone]),
        notes=tuple(notes),
    )


def _one_side(kind: ChangeKind, row: dict[Any, Any], image_id: str) -> ImageChange:
    """An image only NEW (``added``) or only OLD (``removed``) lists."""
    size, tags = int(row["size_bytes"]), tuple(row["tags"])
    if kind == "added":
        return ImageChange(kind, row["reference"], None, image_id, None, size, (), tags)
    return ImageChange(kind, row["reference"], image_id, None, size, None, tags, ())


def _host_layers(layers: pd.DataFrame) -> tuple[DiffLayer, ...]:
    ordered = layers.sort_values("size_bytes", ascending=False, kind="stable")
    return tuple(
        DiffLayer(
            chain_id=str(chain_id),
            diff_id=str(row["diff_id"]),
            size_bytes=int(row["size_bytes"]),
            created_by=str(row["created_by"]),
            images=int(row["images"]),
        )
        for chain_id, row in ordered.iterrows()
    )
