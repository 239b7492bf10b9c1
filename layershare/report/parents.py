"""What removing an image takes with it: its hidden parents, the classic builder's intermediate images.

moby removes an image's untagged parents no container uses with it, up the chain (``image_delete.go``):
on the containerd store whatever other children they have, on a graphdriver store only a parent the
image was the last child of. On the containerd store those parents hold bytes of their own (each
step's manifest and config), which an image's unique bytes count, as a removal frees them; on a
graphdriver store from Engine 23 on, ``docker system df -v`` counts the layers an image shares only
with such parents as shared, and the report, matching it, says so in a note.
"""

from __future__ import annotations

import pandas as pd

from layershare.free.engine_rules import parents_removed_with
from layershare.report.index import LayerIndex
from layershare.units import human_size


def _removed_with(index: LayerIndex) -> dict[str, list[str]]:
    """Per hidden image (the classic builder's intermediates): the listed images whose removal alone
    removes it too (:func:`~layershare.free.engine_rules.parents_removed_with`)."""
    images = index.images
    hidden = images["intermediate"].astype(bool)
    rows = [
        (str(i), tags, p if isinstance(p, str) else "")
        for i, tags, p in zip(images.index, images["tags"], images["parent_id"], strict=True)
    ]
    in_use = set(images.index[images["containers"] > 0])
    taken = parents_removed_with(rows, in_use, index.engine.image_store == "containerd")
    removed_with: dict[str, list[str]] = {}
    for image_id in images.index[~hidden]:
        for parent in taken.get(str(image_id), ()):
            if hidden.get(parent, False):
                removed_with.setdefault(parent, []).append(str(image_id))
    return removed_with


def hidden_parent_bytes(index: LayerIndex, frame: pd.DataFrame) -> pd.Series:
    """Per image: the bytes its hidden parents hold that no listed image holds, on the containerd store.

    Removing an image there also removes its hidden parents (:func:`_removed_with`), and with them the
    manifest and config the classic builder wrote for each step: bytes no listed image holds, which
    ``docker system df -v``'s UNIQUE leaves out. An object several hidden images hold counts for an
    image whose removal takes every one of them. ``frame`` has one row per (image, object) with the
    object's bytes. Zero elsewhere: a graphdriver store's hidden parents hold no bytes of their own.
    """
    images = index.images
    zero = pd.Series(0, index=images.index, dtype="int64")
    hidden = images["intermediate"].astype(bool)
    if index.engine.image_store != "containerd" or not hidden.any():
        return zero
    removed_with = _removed_with(index)
    held = frame["image_id"].map(hidden).astype(bool)
    alone = frame.loc[held & ~frame["object"].isin(set(frame.loc[~held, "object"]))]
    extra: dict[str, int] = {}
    objects = alone.groupby("object")
    for holders, size in zip(
        objects["image_id"].agg(frozenset),
        objects["layer_bytes"].first() + objects["blob_bytes"].first(),
        strict=True,
    ):
        takers = set.intersection(*(set(removed_with.get(h, ())) for h in holders))
        for image_id in takers:
            extra[image_id] = extra.get(image_id, 0) + int(size)
    return zero.add(pd.Series(extra, dtype="int64"), fill_value=0).astype("int64")


def shared_only_with_hidden_parents(index: LayerIndex) -> pd.Series:
    """Per image, on a graphdriver store whose SHARED SIZE counts intermediates as users (Engine 23+):
    the bytes of its layers that only hidden parents removed with it hold too. ``docker system df -v``
    counts them shared, as the report does; removing the image frees them all the same."""
    images = index.images
    zero = pd.Series(0, index=images.index, dtype="int64")
    if not index.engine.shares_with_intermediates or not images["intermediate"].any():
        return zero
    removed_with = _removed_with(index)
    taken = {(x, h) for h, xs in removed_with.items() for x in xs}
    edges = index.edges
    holders = edges.groupby("chain_id")["image_id"].agg(frozenset).to_dict()
    sizes = index.layers["size_bytes"].to_dict()
    extra: dict[str, int] = {}
    for image_id, chain_id in zip(edges["image_id"], edges["chain_id"], strict=True):
        others = holders[chain_id] - {image_id}
        if others and all((image_id, h) in taken for h in others):
            extra[image_id] = extra.get(image_id, 0) + int(sizes[chain_id])
    return zero.add(pd.Series(extra, dtype="int64"), fill_value=0).astype("int64")


def hidden_parents_notes(listed: pd.DataFrame) -> tuple[str, ...]:
    """Say where an image's unique bytes count its hidden parents' (and differ from df -v's UNIQUE), or
    where, as df -v's, they leave out layers a removal frees with its hidden parents."""
    notes = []
    with_parents = listed.loc[listed["hidden_parent_bytes"] > 0]
    if len(with_parents):
        total = int(with_parents["hidden_parent_bytes"].sum())
        notes.append(
            f"{len(with_parents)} image(s)' unique bytes also count {human_size(total)} ({total:,} B) in "
            "all that their hidden parents (the classic builder's intermediate images, removed with them) "
            "hold alone, as a removal frees them; docker system df -v's UNIQUE leaves these out"
        )
    beside = listed.loc[listed["shared_with_parents_bytes"] > 0]
    if len(beside):
        total = int(beside["shared_with_parents_bytes"].sum())
        notes.append(
            f"{len(beside)} image(s) share {human_size(total)} ({total:,} B) in all only with their hidden "
            "parents (the classic builder's intermediate images): this engine's docker system df -v counts "
            "those bytes shared, and so does this report, but removing the image removes those parents "
            "and frees them too; layershare free IMAGE gives what a removal frees"
        )
    return tuple(notes)
