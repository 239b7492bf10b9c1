"""What a removal frees: the units nothing else holds once a plan's images, containers, volumes and
build-cache records are gone, in the engine's own measure and on disk.

A unit (a layer, snapshot, blob, writable layer, volume, build-cache record)
goes when every holder of it goes. ``freed_bytes`` is how much the engine's
``docker system df`` totals drop by; each item's own figure is what goes
because of it alone (units only it holds), and what goes only because
several selected items go together is ``shared_within_selection_bytes``, so
the parts add up to ``freed_bytes``. Works on any :class:`EngineState`, so a
caller can ask "what if these go" without the CLI (:func:`what_if`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from layershare.free.holders import counted_units as counted_from_pairs
from layershare.free.holders import holding_pairs, open_range, removed_holders
from layershare.free.plan import Plan
from layershare.free.selection import Selection, plan_removal
from layershare.model import EngineInfo
from layershare.model.holdings import SOFT, EngineState


@dataclass(frozen=True)
class ImageFreed:
    """One selected image: the tags that go, whether the image goes, what only it frees, what blocks it."""

    id: str
    tags: tuple[str, ...]
    removed_tags: tuple[str, ...]
    removed: bool
    freed_bytes: int
    freed_disk_bytes: int | None
    blocked_by: tuple[str, ...]
    kept_bytes: int = 0
    kept_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemFreed:
    """A container or a volume that goes and what only it frees."""

    id: str
    name: str
    freed_bytes: int
    freed_disk_bytes: int | None


@dataclass(frozen=True)
class FreeResult:
    """What a removal would free, item by item, and the docker commands that would carry it out."""

    engine: EngineInfo
    selection: tuple[str, ...]
    freed_bytes: int
    freed_disk_bytes: int | None
    shared_within_selection_bytes: int
    freed_disk_uncertain_bytes: int
    images: tuple[ImageFreed, ...]
    containers: tuple[ItemFreed, ...]
    volumes: tuple[ItemFreed, ...]
    build_cache_bytes: int
    build_records: tuple[str, ...]
    commands: tuple[str, ...]
    notes: tuple[str, ...]
    collected_at: str = ""
    # Containers, volumes and build-cache records asked for that stay: holder key -> why.
    refused: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Where the engine's answers leave part of the drop open (the docker group on the containerd
    # store, BuildKit's build cache): the least and the most it can be. Both equal freed_bytes when exact.
    freed_min_bytes: int | None = None
    freed_max_bytes: int | None = None
    # buildx builders' records that go (``<builder>/<id>``) and their share of the state volumes.
    builder_bytes: int = 0
    builder_records: tuple[str, ...] = ()

    @property
    def freed_exact(self) -> bool:
        """Whether ``freed_bytes`` is the drop itself, not the likeliest point of a range."""
        return self.freed_min_bytes in (None, self.freed_bytes) and self.freed_max_bytes in (
            None,
            self.freed_bytes,
        )


def holdings(state: EngineState) -> pd.DataFrame:
    """Every (holder, unit) pair (:func:`~layershare.free.holders.holding_pairs`) as a frame."""
    pairs = holding_pairs(state)
    return pd.DataFrame(
        {"holder": [h for h, _ in pairs], "unit": [u for _, u in pairs]},
        columns=["holder", "unit"],
        dtype=object,
    )


def freed_units(held: pd.DataFrame, plan: Plan) -> list[str]:
    """The units a plan frees on disk: every holder of each is removed."""
    leaving = held["holder"].isin(removed_holders(plan))
    return sorted(set(held.loc[leaving, "unit"]) - set(held.loc[~leaving, "unit"]))


def counted_units(state: EngineState, held: pd.DataFrame) -> set[str]:
    """The units the engine's ``docker system df`` totals count while ``held`` holds what it holds."""
    return counted_from_pairs(state, zip(held["holder"], held["unit"], strict=True))


def what_if(
    state: EngineState, plan: Plan, selection: Sequence[str] = (), held: pd.DataFrame | None = None
) -> FreeResult:
    """The figures of a plan on a state (``held``: :func:`holdings` of it, when already built).

    ``freed_bytes`` is the engine's totals before minus after: a layer leaves ``LayersSize`` with
    the last image that holds it, even where BuildKit still keeps it on disk.
    """
    held = holdings(state) if held is None else held
    gone = removed_holders(plan)
    staying = held[~held["holder"].isin(gone)]
    before, after = counted_units(state, held), counted_units(state, staying)
    freed_bytes = sum(state.units[k].bytes for k in before) - sum(state.units[k].bytes for k in after)
    on_disk = freed_units(held, plan)
    disks = [state.units[k].disk_bytes for k in on_disk]
    disk_known = state.disk_readable and all(d is not None for d in disks)
    freed_disk = sum(d for d in disks if d is not None) if disk_known else None
    maybe = sorted(
        set(freed_units(held[~held["holder"].str.startswith(f"other:{SOFT}")], plan)) - set(on_disk)
    )
    uncertain = sum(state.units[k].disk_bytes or 0 for k in maybe) if disk_known else 0
    own = _alone(state, held, before - after, set(on_disk))
    images = tuple(_image_freed(state, plan, own, disk_known, _kept(state, held, plan, staying, after)))
    by_id = {c.id: c for c in state.containers}
    nothing = (0, 0 if disk_known else None)
    containers = tuple(
        ItemFreed(cid, by_id[cid].name, *own.get(f"container:{cid}", nothing)) for cid in plan.containers
    )
    volumes = tuple(ItemFreed(name, name, *own.get(f"volume:{name}", nothing)) for name in plan.volumes)
    build_bytes = sum(own.get(f"build:{r}", (0, 0))[0] for r in plan.build_records)
    builder_bytes = sum(own.get(f"builder:{r}", (0, 0))[0] for r in plan.builder_records)
    parts = sum(i.freed_bytes for i in images) + sum(c.freed_bytes for c in containers)
    parts += sum(v.freed_bytes for v in volumes) + build_bytes + builder_bytes
    notes = list(dict.fromkeys(plan.notes)) + list(state.notes) + builder_notes(state, plan)
    growth = builder_growth(state, plan)
    less, more = open_range(state, gone, before - after)
    if less or more:
        notes.append(
            f"freed_bytes is an estimate: the drop is between {freed_bytes - less:,} and "
            f"{freed_bytes + more:,} bytes (freed_min_bytes, freed_max_bytes): which layers BuildKit's build "
            "cache keeps is not in what the engine answers this user; root on the engine's host reads it "
            "from the store and gets the exact figure"
        )
    less += growth
    if uncertain:
        notes.append(
            f"up to {uncertain:,} more bytes may go on disk: blobs BuildKit's build history also names, "
            "which the engine sometimes keeps and sometimes not (freed_disk_uncertain_bytes)"
        )
    if plan.matched_nothing:
        notes.insert(0, "the selection matches nothing: nothing would be freed")
    return FreeResult(
        engine=state.engine,
        selection=tuple(selection),
        freed_bytes=freed_bytes,
        freed_disk_bytes=freed_disk,
        shared_within_selection_bytes=freed_bytes - parts,
        freed_disk_uncertain_bytes=uncertain,
        images=images,
        containers=containers,
        volumes=volumes,
        build_cache_bytes=build_bytes,
        build_records=tuple(plan.build_records),
        builder_bytes=builder_bytes,
        builder_records=tuple(plan.builder_records),
        commands=tuple(plan.commands),
        notes=tuple(notes),
        collected_at=state.collected_at,
        refused={key: tuple(dict.fromkeys(why)) for key, why in plan.refused.items()},
        freed_min_bytes=freed_bytes - less,
        freed_max_bytes=freed_bytes + more,
    )


# What a prune in a buildx builder may add to its state volume while BuildKit records the removal: its
# bbolt databases grow by whole pages, never shrink (measured on Engine 29.7, BuildKit v0.32: 0 to
# 128 KiB for one prune).
BUILDKIT_DB_GROWTH = 128 * 1024


def builder_growth(state: EngineState, plan: Plan) -> int:
    """By how much less than its records' files a plan's prunes in builders may free: each prune
    command in a builder whose state volume stays, at most :data:`BUILDKIT_DB_GROWTH`."""
    staying = {b.name for b in state.builders if b.state_volume not in plan.volumes}
    prunes = [c for c in plan.commands if c.startswith("docker buildx prune --builder ")]
    touched = {key.partition("/")[0] for key in plan.builder_records}
    return BUILDKIT_DB_GROWTH * len(prunes) if touched & staying else 0


def builder_notes(state: EngineState, plan: Plan) -> list[str]:
    """Where a builder's share of ``freed_bytes`` is an estimate, and why."""
    notes = []
    touched = {key.partition("/")[0] for key in plan.builder_records}
    if builder_growth(state, plan):
        notes.append(
            "a prune in a buildx builder frees its records' files (freed_bytes) less whatever BuildKit's "
            "databases in the same state volume grow by as it records the removal: bbolt grows its files "
            f"by whole pages (0 to {BUILDKIT_DB_GROWTH // 1024} KiB per prune measured), so the drop is "
            "between freed_min_bytes and freed_bytes"
        )
    for b in state.builders:
        if b.name in touched and b.read_from != "files":
            notes.append(
                f"builder {b.name}: its records are weighed by BuildKit's sizes (allocated blocks) where the "
                "engine sizes the state volume by file lengths: its share of freed_bytes is an estimate; "
                "root on the engine's host reads the records' files and gets the exact drop"
            )
    return notes


def _alone(
    state: EngineState, held: pd.DataFrame, uncounted: set[str], on_disk: set[str]
) -> dict[str, tuple[int, int | None]]:
    """For each holder, what goes because of it alone: (engine bytes of the units that leave the
    totals, disk bytes of the units that leave the disk) among the units it is the only holder of."""
    # An untagged parent image the classic builder left stands for its children, not beside them.
    parents = {i.parent_id for i in state.images}
    hidden = {f"image:{i.id}" for i in state.images if not i.tags and i.id in parents}
    visible = held[~held["holder"].isin(hidden) & held["unit"].isin(uncounted | on_disk)]
    counts = visible.groupby("unit")["holder"].nunique()
    only = visible[visible["unit"].map(counts) == 1]
    found: dict[str, tuple[int, int | None]] = {}
    for holder, keys in only.groupby("holder")["unit"]:
        units = [state.units[k] for k in keys]
        disks = [u.disk_bytes for u in units if u.key in on_disk]
        found[str(holder)] = (
            sum(u.bytes for u in units if u.key in uncounted),
            None if any(d is None for d in disks) else sum(d for d in disks if d is not None),
        )
    return found


def _kept(
    state: EngineState, held: pd.DataFrame, plan: Plan, staying: pd.DataFrame, counted: set[str]
) -> dict[str, tuple[int, list[str]]]:
    """For each removed image, what of its units stays counted by the engine, and who keeps it."""
    if not plan.removed_images:
        return {}
    removed = held[held["holder"].isin({f"image:{i}" for i in plan.removed_images})]
    keepers = staying[staying["unit"].isin(counted) & staying["unit"].isin(removed["unit"])]
    if keepers.empty:
        return {}
    # Who keeps each unit, then each removed image's kept units' keepers together (no pairwise merge:
    # a base layer hundreds of images share would make removed x keeping rows).
    keeping: dict[str, set[str]] = {}
    for holder, unit in zip(keepers["holder"], keepers["unit"], strict=True):
        keeping.setdefault(unit, set()).add(holder)
    units_of: dict[str, set[str]] = {}
    for holder, unit in zip(removed["holder"], removed["unit"], strict=True):
        if unit in keeping:
            units_of.setdefault(holder, set()).add(unit)
    found: dict[str, tuple[int, list[str]]] = {}
    for holder, units in units_of.items():
        by = set().union(*(keeping[u] for u in units))
        kinds = {k.split(":", 1)[0] for k in by}
        why = []
        images = sum(1 for k in by if k.startswith("image:"))
        if images:
            why.append(f"layers kept: also used by {images} other image{'s' if images > 1 else ''}")
        if kinds & {"build", "other"}:
            why.append("layers kept by the build cache (or another holder)")
        if "container" in kinds:
            why.append("layers kept by a container")
        found[holder[6:]] = (sum(state.units[k].bytes for k in units), why)
    return found


def _image_freed(
    state: EngineState,
    plan: Plan,
    own: Mapping[str, tuple[int, int | None]],
    disk_known: bool,
    kept: Mapping[str, tuple[int, list[str]]],
) -> Iterable[ImageFreed]:
    touched = set(plan.removed_images) | set(plan.removed_tags) | set(plan.blocked_by)
    for image in state.images:
        if image.id not in touched:
            continue
        removed = image.id in plan.removed_images
        freed, disk = own.get(f"image:{image.id}", (0, 0)) if removed else (0, 0)
        kept_bytes, kept_by = kept.get(image.id, (0, []))
        yield ImageFreed(
            id=image.id,
            tags=image.tags,
            removed_tags=tuple(plan.removed_tags.get(image.id, ())),
            removed=removed,
            freed_bytes=freed,
            freed_disk_bytes=disk if disk_known else None,
            blocked_by=tuple(dict.fromkeys(plan.blocked_by.get(image.id, ()))),
            kept_bytes=kept_bytes,
            kept_by=tuple(kept_by),
        )


def free(state: EngineState, selection: Selection, now: float | None = None) -> FreeResult:
    """What removing ``selection`` from an engine would free (nothing is removed)."""
    return what_if(state, plan_removal(state, selection, now), selection.describe())
