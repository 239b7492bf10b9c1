"""Who holds what: every (holder, stored unit) pair of an engine's state, and the holders a plan removes.

Plain Python (no pandas), so that ``browse`` weighs marks without loading it; :func:`~layershare.free.
whatif.holdings` is the same pairs as a frame.
"""

from __future__ import annotations

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
        | ({GARBAGE} if plan.collects_garbage else set())
    )
