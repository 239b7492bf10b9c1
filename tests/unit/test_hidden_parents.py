"""On the containerd store an image's unique bytes are what removing it alone frees: its hidden parents
(the classic builder's intermediate images, which the store removes with it up the chain, whatever other
children they have, stopping at a tagged image or one a container uses) go too, and what they hold
alone with them. Worked out by hand on a small state; the engine test checks the rule on a real
engine (``test_engine29_report.py``)."""

from __future__ import annotations

import json

from layershare.model import Blob, EngineInfo, Image, Layer, Snapshot
from layershare.render.report_json import report_document
from layershare.report.analysis import build_report
from layershare.report.index import LayerIndex

# Sizes are distinct powers of two, so every sum says which objects are in it.
LAYERS = {
    "L1": 1 << 20,
    "L2": 1 << 21,
    "L3": 1 << 22,
    "L4": 1 << 23,
    "L5": 1 << 24,
    "L6": 1 << 25,
    "L7": 1 << 26,
}
BLOBS = {
    "mB": 1, "cB": 2, "mP1": 4, "cP1": 8, "mP2": 16, "cP2": 32, "mX": 64, "cX": 128,
    "mY": 256, "cY": 512, "mQ": 1024, "cQ": 2048, "mZ": 4096, "cZ": 8192,
    "kept12": 16384,  # held by P1 and P2 only: X's removal takes both, Y's only P1
    "mH": 32768, "cH": 65536, "mW": 131072, "cW": 262144,
}  # fmt: skip


def image(store: str, image_id: str, chain: list[str], blobs: list[str], *, tags: tuple[str, ...] = (),
          parent: str | None = None, intermediate: bool = False, containers: int = 0) -> Image:  # fmt: skip
    return Image(
        id=image_id,
        tags=tags,
        digests=(),
        created="",
        size_bytes=sum(LAYERS[c] for c in chain) + sum(BLOBS[b] for b in blobs),
        diff_ids=tuple(chain),
        chain_ids=tuple(chain),
        history=(),
        parent_id=parent,
        containers=containers,
        intermediate=intermediate,
        blob_digests=tuple(blobs) if store == "containerd" else (),
    )


def snapshot(store: str) -> Snapshot:
    images = (
        image(store, "B", ["L1"], ["mB", "cB"], tags=("base:1",)),
        image(store, "P1", ["L1", "L2"], ["mP1", "cP1", "kept12"], parent="B", intermediate=True),
        image(store, "P2", ["L1", "L2"], ["mP2", "cP2", "kept12"], parent="P1", intermediate=True),
        image(store, "X", ["L1", "L2", "L3"], ["mX", "cX"], tags=("x:1",), parent="P2"),
        image(store, "Y", ["L1", "L2", "L4"], ["mY", "cY"], tags=("y:1",), parent="P1"),
        # A container runs Q: removing Z leaves it, and what it holds.
        image(store, "Q", ["L1", "L5"], ["mQ", "cQ"], parent="B", intermediate=True, containers=1),
        image(store, "Z", ["L1", "L5"], ["mZ", "cZ"], tags=("z:1",), parent="Q"),
        # W is H's only child: a graphdriver store removes H with W too, and L6, which only they hold.
        image(store, "H", ["L1", "L6"], ["mH", "cH"], parent="B", intermediate=True),
        image(store, "W", ["L1", "L6", "L7"], ["mW", "cW"], tags=("w:1",), parent="H"),
    )
    parents = {"L1": None, "L2": "L1", "L3": "L2", "L4": "L2", "L5": "L1", "L6": "L1", "L7": "L6"}
    return Snapshot(
        engine=EngineInfo("unix:///x", "29.7.2", "1.52", store, "overlayfs"),  # type: ignore[arg-type]
        images=images,
        layers=tuple(Layer(c, c, parents[c], size, "") for c, size in LAYERS.items()),
        blobs=tuple(Blob(d, size, "manifest") for d, size in BLOBS.items()) if store == "containerd" else (),
    )


def test_unique_bytes_count_what_the_hidden_parents_removed_with_an_image_hold_alone() -> None:
    report = build_report(LayerIndex.from_snapshot(snapshot("containerd")))
    images = report.images
    parents = images["hidden_parent_bytes"].to_dict()
    # X takes P2 and P1 (P1 whatever its other child Y), then stops at the tagged base.
    assert parents["X"] == BLOBS["mP1"] + BLOBS["cP1"] + BLOBS["mP2"] + BLOBS["cP2"] + BLOBS["kept12"]
    # Y takes P1 alone: kept12 stays with P2.
    assert parents["Y"] == BLOBS["mP1"] + BLOBS["cP1"]
    # Z's parent runs a container, and the base has no hidden parent.
    assert parents["Z"] == 0 and parents["B"] == 0
    # W takes H, whose layer W holds too (so W's own unique bytes count it already).
    assert parents["W"] == BLOBS["mH"] + BLOBS["cH"]
    assert (
        images.at["W", "unique_bytes"]
        == LAYERS["L6"] + LAYERS["L7"] + BLOBS["mW"] + BLOBS["cW"] + parents["W"]
    )
    assert (images["shared_with_parents_bytes"] == 0).all()  # the containerd store counts listed images
    # Unique: its own objects no other listed image holds, plus those.
    assert images.at["X", "unique_bytes"] == LAYERS["L3"] + BLOBS["mX"] + BLOBS["cX"] + parents["X"]
    assert images.at["Y", "unique_bytes"] == LAYERS["L4"] + BLOBS["mY"] + BLOBS["cY"] + parents["Y"]
    # Z's removal leaves Q (a container runs it), and Q keeps L5: df -v counts L5 unique to Z, a removal
    # does not free it (kept_by_parents_bytes).
    kept = images["kept_by_parents_bytes"].to_dict()
    assert kept == {"X": 0, "Y": 0, "Z": LAYERS["L5"], "B": 0, "W": 0}
    assert images.at["Z", "unique_bytes"] == BLOBS["mZ"] + BLOBS["cZ"]
    for image_id in ("X", "Y", "Z", "B", "W"):
        stored = images.at[image_id, "layer_bytes"] + images.at[image_id, "blob_bytes"]
        assert (
            images.at[image_id, "unique_bytes"]
            == stored - images.at[image_id, "shared_bytes"] + parents[image_id] - kept[image_id]
        )
    total = parents["X"] + parents["Y"] + parents["W"]
    (kept_note,) = [n for n in report.notes if "does not take keep" in n]
    assert kept_note.startswith("1 image(s) hold 16.8MB (16,777,216 B) in all")
    (note,) = [n for n in report.notes if "unique bytes also count" in n]
    assert (
        note.startswith("3 image(s)' unique bytes also count 115kB (114,760 B) in all") and total == 114_760
    )
    assert note.endswith("docker system df -v's UNIQUE leaves these out")
    doc = json.loads(json.dumps(report_document(report)))
    rows = {i["id"]: i for i in doc["images"]}
    assert rows["X"]["hidden_parent_bytes"] == parents["X"] and rows["X"]["parent_id"] == "P2"
    assert rows["B"]["parent_id"] is None
    assert rows["X"]["unique_bytes"] == rows["X"]["stored_bytes"] - rows["X"]["shared_bytes"] + parents["X"]


def test_on_a_graphdriver_store_unique_is_df_s_and_a_note_says_what_it_leaves_out() -> None:
    """There hidden parents hold no bytes of their own, and a parent goes only with its last child
    (H with W; P1 has two children, so X takes only P2, which holds nothing X does not share with P1
    or Y). From Engine 23 df -v counts W's L6 shared (H holds it): the report too, with a note."""
    report = build_report(LayerIndex.from_snapshot(snapshot("graphdriver")))
    images = report.images
    assert (images["hidden_parent_bytes"] == 0).all()
    assert images["shared_with_parents_bytes"].to_dict() == {
        i: LAYERS["L6"] if i == "W" else 0 for i in "BXYZW"
    }
    assert images.at["W", "unique_bytes"] == LAYERS["L7"]
    (note,) = [n for n in report.notes if "hidden parents" in n]
    assert note.startswith("1 image(s) share 33.6MB (33,554,432 B) in all only with their hidden parents")
