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

from layershare.free.parent_chain import parents_removed_with
from layershare.report.index import LayerIndex
from layershare.units import human_size


def _taken(index: LayerIndex) -> pd.DataFrame:
    """Pairs (``taker``, ``image_id``): a listed image, and a hidden image (the classic builder's
    intermediates) its removal alone removes too (:func:`~layershare.free.engine_rules.parents_removed_with`)."""
    images = index.images
    hidden = images["intermediate"].astype(bool)
    rows = [
        (str(i), tags, p if isinstance(p, str) else "")
        for i, tags, p in zip(images.index, images["tags"], images["parent_id"], strict=True)
    ]
    in_use = set(images.index[images["containers"] > 0])
    taken = parents_removed_with(rows, in_use, index.engine.image_store == "containerd")
    pairs = [
        (str(image_id), parent)
        for image_id in images.index[~hidden]
        for parent in taken.get(str(image_id), ())
        if hidden.get(parent, False)
    ]
    return pd.DataFrame(pairs, columns=["taker", "image_id"], dtype="object")


def _freed_with_parents(images: pd.Index, holdings: pd.DataFrame, taken: pd.DataFrame) -> pd.Series:
    """Per image: the bytes of the objects (``holdings``: one row per ``image_id``, ``object``, ``bytes``)
    that other images hold, every one of them a hidden image its removal takes too."""
    zero = pd.Series(0, index=images, dtype="int64")
    if not len(taken) or not len(holdings):
        return zero
    holders = holdings.groupby("object").size()
    # Each (taker, object) once per hidden holder the taker's removal takes.
    via = holdings.merge(taken, on="image_id").groupby(["taker", "object"]).size().rename("taken")
    rows = via.reset_index()
    own = pd.MultiIndex.from_frame(holdings[["image_id", "object"]])
    rows["holds"] = pd.MultiIndex.from_frame(rows[["taker", "object"]]).isin(own).astype("int64")
    freed = rows.loc[rows["taken"] == rows["object"].map(holders) - rows["holds"]]
    sizes = holdings.groupby("object")["bytes"].first()
    per_image = freed["object"].map(sizes).groupby(freed["taker"]).sum()
    return zero.add(per_image.astype("int64"), fill_value=0).astype("int64")


def hidden_parent_bytes(index: LayerIndex, frame: pd.DataFrame) -> pd.Series:
    """Per image: the bytes its hidden parents hold that no listed image holds, on the containerd store.

    Removing an image there also removes its hidden parents (:func:`_taken`), and with them the manifest
    and config the classic builder wrote for each step: bytes no listed image holds, which ``docker
    system df -v``'s UNIQUE leaves out. An object several hidden images hold counts for an image whose
    removal takes every one of them. ``frame`` has one row per (image, object) with the object's bytes.
    Zero elsewhere: a graphdriver store's hidden parents hold no bytes of their own.
    """
    images = index.images
    hidden = images["intermediate"].astype(bool)
    if index.engine.image_store != "containerd" or not hidden.any():
        return pd.Series(0, index=images.index, dtype="int64")
    held = frame["image_id"].map(hidden).astype(bool)
    alone = frame.loc[held & ~frame["object"].isin(set(frame.loc[~held, "object"]))]
    holdings = pd.DataFrame(
        {
            "image_id": alone["image_id"],
            "object": alone["object"],
            "bytes": alone["layer_bytes"] + alone["blob_bytes"],
        }
    )
    return _freed_with_parents(images.index, holdings, _taken(index))


def kept_by_parents_bytes(index: LayerIndex, frame: pd.DataFrame) -> pd.Series:
    """Per image, on the containerd store: the bytes it holds, no other listed image holds, and a hidden
    image its removal does not take holds too (the parent chain is broken, a container uses that
    parent, or a named image stands between): ``docker system df -v`` counts them unique, as if the
    hidden images went too, but they stay. ``frame`` has one row per (image, object) with the object's
    bytes. Zero elsewhere and where no hidden image stays."""
    images = index.images
    hidden = images["intermediate"].astype(bool)
    zero = pd.Series(0, index=images.index, dtype="int64")
    if index.engine.image_store != "containerd" or not hidden.any() or not len(frame):
        return zero
    held = frame["image_id"].map(hidden).astype(bool)
    listed = frame.loc[~held]
    holders = listed.groupby("object")["image_id"].nunique()
    own = listed.loc[listed["object"].map(holders) == 1]
    own = own.assign(bytes=own["layer_bytes"] + own["blob_bytes"])[["image_id", "object", "bytes"]]
    keepers = frame.loc[held, ["image_id", "object"]].rename(columns={"image_id": "hidden"})
    pairs = own.merge(keepers, on="object")
    taken = _taken(index).rename(columns={"taker": "image_id", "image_id": "hidden"})
    pairs = pairs.merge(taken.assign(taken=True), on=["image_id", "hidden"], how="left")
    stays = pairs.loc[pairs["taken"].isna(), ["image_id", "object", "bytes"]].drop_duplicates()
    per_image = stays.groupby("image_id")["bytes"].sum()
    return zero.add(per_image.astype("int64"), fill_value=0).astype("int64")


def shared_only_with_hidden_parents(index: LayerIndex) -> pd.Series:
    """Per image, on a graphdriver store whose SHARED SIZE counts intermediates as users (Engine 23+):
    the bytes of its layers that only hidden parents removed with it hold too. ``docker system df -v``
    counts them shared, as the report does; removing the image frees them all the same."""
    images = index.images
    if not index.engine.shares_with_intermediates or not images["intermediate"].any():
        return pd.Series(0, index=images.index, dtype="int64")
    edges = index.edges
    holdings = pd.DataFrame(
        {
            "image_id": edges["image_id"],
            "object": edges["chain_id"],
            "bytes": edges["chain_id"].map(index.layers["size_bytes"]),
        }
    )
    return _freed_with_parents(images.index, holdings, _taken(index))


_NOTES = {
    "hidden_parent_bytes": "{n} image(s)' unique bytes also count {size} in all that their hidden parents (the "
    "classic builder's intermediate images, removed with them) hold alone, as a removal frees them; docker "
    "system df -v's UNIQUE leaves these out",
    "kept_by_parents_bytes": "{n} image(s) hold {size} in all that hidden parents their removal does not "
    "take keep too (the parent chain is broken by an earlier removal or prune, or a container uses the "
    "parent): docker system df -v counts those bytes unique, but removing the image leaves them; this "
    "report's unique bytes leave them out",
    "shared_with_parents_bytes": "{n} image(s) share {size} in all only with their hidden parents (the classic "
    "builder's intermediate images): this engine's docker system df -v counts those bytes shared, and so "
    "does this report, but removing the image removes those parents and frees them too; layershare free "
    "IMAGE gives what a removal frees",
}


def hidden_parents_notes(listed: pd.DataFrame) -> tuple[str, ...]:
    """Say where an image's unique bytes count its hidden parents' (and differ from df -v's UNIQUE), or
    where, as df -v's, they leave out layers a removal frees with its hidden parents."""
    notes = []
    for column, text in _NOTES.items():
        some = listed.loc[listed[column] > 0, column]
        if len(some):
            total = int(some.sum())
            notes.append(text.format(n=len(some), size=f"{human_size(total)} ({total:,} B)"))
    return tuple(notes)
