"""Who holds what: every (holder, stored unit) pair of an engine's state, and the holders a plan removes.

Plain Python (no pandas), so that ``browse`` weighs marks, and ``disk`` splits a prune by category,
without loading it; :func:`~layershare.free.whatif.holdings` is the same pairs as a frame.
"""

from __future__ import annotations

from collections.abc import Iterable

from layershare.free.plan import Plan
from layershare.model import EngineState

GARBAGE = "other:garbage"  # what containerd's collector sweeps when it next runs (a blob no record names)


def holding_pairs(state: EngineState) -> list[tuple[str, str]]:
    """Every (holder, unit) pair, each once, of units the state weighs: ``image:<id>``, ``container:<id>``,
    ``volume:<name>``, ``build:<id>`` and the holders nothing removes (``other:…``)."""
    found: dict[tuple[str, str], None] = {}
    units = state.units

    def add(holder: str, keys: tuple[str, ...] | list[str]) -> None:
        for key in keys:
            if key in units:
                found[(holder, key)] = None

    for image in state.images:
        add(f"image:{image.id}", image.holds)
    for container in state.containers:
        add(f"container:{container.id}", container.holds)
    for volume in state.volumes:
        add(f"volume:{volume.name}", [f"volume:{volume.name}"])
    for record in state.build_cache:
        add(f"build:{record.id}", record.holds)
    for builder in state.builders:
        for r in builder.records or ():
            key = f"builder:{builder.name}/{r.id}"
            add(key, [key])
    for name, keys in state.others.items():
        add(f"other:{name}", keys)
    return list(found)


def removed_holders(plan: Plan) -> set[str]:
    """The holders a plan removes."""
    return (
        {f"image:{i}" for i in plan.removed_images}
        | {f"container:{c}" for c in plan.containers}
        | {f"volume:{v}" for v in plan.volumes}
        | {f"build:{r}" for r in plan.build_records}
        | {f"builder:{r}" for r in plan.builder_records}
        | ({GARBAGE} if plan.collects_garbage else set())
    )


def counted_units(state: EngineState, pairs: Iterable[tuple[str, str]]) -> set[str]:
    """The units the engine's ``docker system df`` totals count while ``pairs`` (holder, unit) hold what
    they hold: a unit counts while something holds it, unless it counts only with images and no image
    holds it, or an image holds a unit it is counted under."""
    held: set[str] = set()
    by_images: set[str] = set()
    for holder, key in pairs:
        held.add(key)
        if holder.startswith("image:"):
            by_images.add(key)
    counted = set()
    for key in held:
        unit = state.units[key]
        if unit.counted_with_images and key not in by_images:
            continue
        if any(k in by_images for k in unit.uncounted_under):
            continue
        counted.add(key)
    return counted


def open_range(state: EngineState, gone: set[str], leaving: set[str]) -> tuple[int, int]:
    """By how much less and how much more than the point figure a removal may free, where the state
    leaves it open (:attr:`~layershare.model.holdings.EngineState.uncertain`), given the holders that go
    and the units that leave the totals: the removed images' share is capped at the shared build-cache
    records, which each turn unshared once at most."""
    if not state.uncertain:
        return 0, 0
    open_ = state.uncertain
    images = [open_[k] for k in gone if k.startswith("image:") and k in open_]
    others = [open_[k] for k in (gone | leaving) if not k.startswith("image:") and k in open_]
    less = min(sum(lo for lo, _ in images), state.shared_build_bytes) + sum(lo for lo, _ in others)
    return less, sum(hi for _, hi in images) + sum(hi for _, hi in others)


def fingerprint(state: EngineState) -> tuple[object, ...]:
    """What a removal's plan depends on: image IDs and tags, containers and whether each runs, volumes,
    build-cache records (``browse`` and ``plan --apply`` refuse to remove when it changed)."""
    return (
        sorted((i.id, tuple(sorted(i.tags))) for i in state.images),
        sorted((c.id, c.running) for c in state.containers),
        sorted(v.name for v in state.volumes),
        sorted(r.id for r in state.build_cache),
    )


# Which of the engine's totals a stored unit counts in (disk's categories).
KIND_CATEGORY = {
    "layer": "images",
    "snapshot": "images",
    "blob": "images",
    "container": "containers",
    "volume": "volumes",
    "build_cache": "build_cache",
    "builder_record": "builders",
    "builder_state": "builders",
}


def freed_by_category(state: EngineState, plan: Plan) -> dict[str, int]:
    """How much each of the engine's totals drops by when ``plan`` is carried out (its ``freed_bytes``
    split by the kind of unit that leaves the count: images, containers, volumes, build cache)."""
    pairs = holding_pairs(state)
    gone = removed_holders(plan)
    before = counted_units(state, pairs)
    after = counted_units(state, [(h, u) for h, u in pairs if h not in gone])
    found = dict.fromkeys(dict.fromkeys(KIND_CATEGORY.values()), 0)
    for key in before:
        found[KIND_CATEGORY[state.units[key].kind]] += state.units[key].bytes
    for key in after:
        found[KIND_CATEGORY[state.units[key].kind]] -= state.units[key].bytes
    return found
