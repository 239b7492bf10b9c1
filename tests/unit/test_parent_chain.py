"""The containerd store's removal of an image's parents (moby ``deleteAll`` and ``parents`` at
``docker-v29.7.2`` and ``v28.5.2``), on a classic-builder family worked out by hand: the walk goes to the
root before anything is deleted, a link that no longer resolves keeps every parent, and the parents go
nearest first up to a named one or one a container uses. The engine test plays generated orders of
the same shapes on real engines (``tests/engine/test_removal_sequences_engine.py``)."""

from __future__ import annotations

from layershare.free.parent_chain import label_chain, parents_removed_with, parents_taken
from layershare.free.prune import parse_prune
from layershare.free.selection import Selection, plan_removal
from layershare.model import Container, EngineImage, EngineInfo, EngineState, StoredUnit

# root:1 <- Ib <- base:1 <- S <- O1 <- sib-1:1
#                             <- O2 <- sib-2:1
#                             <- O3 <- sib-3:1   (a container was created from O3 by its ID)
FAMILY = {
    "root": ("", ("root:1",)),
    "Ib": ("root", ()),
    "base": ("Ib", ("base:1",)),
    "S": ("base", ()),
    "O1": ("S", ()),
    "sib1": ("O1", ("sib-1:1",)),
    "O2": ("S", ()),
    "sib2": ("O2", ("sib-2:1",)),
    "O3": ("S", ()),
    "sib3": ("O3", ("sib-3:1",)),
}


def family(gone: tuple[str, ...] = (), store: str = "containerd") -> EngineState:
    """The family above without the images ``gone`` (an earlier removal or prune took them); each image
    holds a blob of its own, so every removal's bytes say which images went."""
    ids = {name: f"sha256:{name}" for name in FAMILY}
    units = {f"blob:{n}": StoredUnit(f"blob:{n}", "blob", 1 << k, None) for k, n in enumerate(FAMILY)}
    images = tuple(
        EngineImage(ids[n], tags, float(k), ids[parent] if parent else "", holds=(f"blob:{n}",))
        for k, (n, (parent, tags)) in enumerate(FAMILY.items())
        if n not in gone
    )
    containers = (Container("c3", "on-step", ids["O3"], ids["O3"], "exited"),)
    engine = EngineInfo(
        host="unix:///x", version="29.7.2", api_version="1.55", image_store=store, storage_driver="overlayfs"
    )  # type: ignore[arg-type]
    return EngineState(engine, images, containers, (), (), units, api_version="1.55", disk_readable=True)


def removed(state: EngineState, *references: str) -> set[str]:
    plan = plan_removal(state, Selection(references=references))
    return {i.removeprefix("sha256:") for i in plan.removed_images}


def test_the_parents_go_nearest_first_up_to_a_named_one() -> None:
    assert removed(family(), "sib-1:1") == {"sib1", "O1", "S"}  # base:1 has a name: the walk stops


def test_a_parent_a_container_uses_stops_the_walk() -> None:
    assert removed(family(), "sib-3:1") == {"sib3"}


def test_after_a_sibling_took_the_shared_parent_no_parent_goes() -> None:
    # One plan, in the order the engine takes the commands: sib-2's own O2 stays, its chain broken at S.
    assert removed(family(), "sib-1:1", "sib-2:1") == {"sib1", "O1", "S", "sib2"}
    # The same as a second run, on the state the first left.
    state = family(gone=("sib1", "O1", "S"))
    plan = plan_removal(state, Selection(references=("sib-2:1",)))
    assert plan.removed_images == {"sha256:sib2"}
    assert any("a link further up its parent chain is gone" in n for n in plan.notes)


def test_a_link_gone_beyond_a_named_parent_keeps_the_nearer_ones_too() -> None:
    # A dangling prune took Ib, above base:1: the walk to the root fails, so O1 and S stay.
    assert removed(family(gone=("Ib",)), "sib-1:1") == {"sib1"}


def test_a_named_image_others_stand_on_stays_dangling_and_its_parents_go() -> None:
    plan = plan_removal(family(), Selection(references=("base:1",)))
    assert plan.removed_images == {"sha256:Ib"}
    assert plan.blocked_by["sha256:base"][0].startswith("image ")
    assert plan.commands == ["docker image rm base:1"]


def test_a_dangling_prune_takes_every_untagged_image_no_container_uses_and_walks_nothing() -> None:
    state = family()
    plan = plan_removal(state, Selection(prunes=(parse_prune("docker image prune"),)))
    assert {i.removeprefix("sha256:") for i in plan.removed_images} == {"Ib", "S", "O1", "O2"}


def test_a_graphdriver_store_keeps_its_own_rule() -> None:
    # A parent goes only with its last child: S stays under O2 and O3, so the walk stops at O1.
    assert removed(family(store="graphdriver"), "sib-1:1") == {"sib1", "O1"}
    assert removed(family(gone=("Ib",), store="graphdriver"), "sib-1:1") == {"sib1", "O1"}


def test_the_chain_functions() -> None:
    parent_of = {"a": "b", "b": "c", "c": ""}
    assert label_chain("a", parent_of, parent_of) == ("b", "c")
    assert label_chain("a", parent_of, {"a", "b"}) is None  # c is gone
    assert label_chain("a", {"a": "b", "b": "a"}, {"a", "b"}) is None  # never loops
    assert parents_taken(("b", "c"), lambda i: i == "c", lambda i: False) == ("b",)
    assert parents_taken(None, lambda i: False, lambda i: False) == ()
    rows = [(f"sha256:{n}", tags, f"sha256:{p}" if p else "") for n, (p, tags) in FAMILY.items()]
    taken = parents_removed_with(rows, {"sha256:O3"}, containerd=True)
    assert taken["sha256:sib1"] == ("sha256:O1", "sha256:S")
    assert "sha256:sib3" not in taken
    gone = [r for r in rows if r[0] != "sha256:Ib"]
    assert "sha256:sib1" not in parents_removed_with(gone, set(), containerd=True)
