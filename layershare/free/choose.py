"""``layershare plan``: which images to remove to reach a target, least recently used first, each
figure :func:`~layershare.free.whatif.what_if`'s (the engine's own accounting, a union).

No I/O: a state (:class:`~layershare.model.holdings.EngineState`), when each image was last used, a
target and the rules that protect images in; :func:`choose` returns the removals.

The choice: every image a removal may take (:mod:`~layershare.free.candidates`) ordered by when it was
last used, oldest first (ties: the one that frees more alone first); with ``--build-cache`` BuildKit's
records are merged in, in BuildKit's own gc order, each where its last use falls. The shortest prefix of
that order that meets the target is found by doubling then halving (what a prefix frees grows with
it, but where a build-cache record counts again once no image holds its layer), then a reverse pass
drops each chosen image the target does not need, most recently used first, and again until none
can be: no chosen image can be left out with the target still met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from layershare.free.candidates import (
    BUILDER,
    RECORD,
    Chosen,
    Kept,
    builder_key,
    eligible,
    eligible_records,
    record_key,
    unmatched_keeps,
)
from layershare.free.holders import KIND_CATEGORY, removed_holders
from layershare.free.plan import Plan
from layershare.free.running import RunningTotal
from layershare.free.selection import Selection, plan_removal
from layershare.free.target import LastUsed, Rules, Target, TargetKind
from layershare.model.holdings import EngineImage, EngineState, StoredUnit
from layershare.units import human_size

if TYPE_CHECKING:
    from layershare.free.whatif import FreeResult


@dataclass(frozen=True)
class Choice:
    """The images chosen, in order, the plan that removes them, whether it meets the target."""

    target: Target
    reached: bool
    needed: int  # bytes the measured figure must drop by (0 or less: met already)
    measured: int  # bytes it drops by with the chosen images gone
    chosen: tuple[Chosen, ...]
    kept: tuple[Kept, ...]
    plan: Plan
    selection: Selection
    notes: tuple[str, ...]
    unmatched_keeps: tuple[str, ...] = ()  # --keep globs no image's tag matches (a warning)


@dataclass(frozen=True)
class PlanResult:
    """A plan to a target: the choice, ``free``'s figures for it, and the data root's file system
    (bytes free, size) where the target is about it."""

    choice: Choice
    result: FreeResult
    filesystem: tuple[int, int] | None = None
    # The state it was made on (:func:`~layershare.free.holders.fingerprint`).
    fingerprint: tuple[object, ...] = ()
    applied_bytes: int | None = None  # with --apply: what the engine's accounting dropped by
    holds_until: float | None = None  # when --min-age next lets an image go (None: never)


class _Weigher:
    """What a set of chosen images frees in the target's measure, planned by the engine's rules and
    weighed incrementally (:class:`~layershare.free.running.RunningTotal`)."""

    def __init__(self, state: EngineState, target: Target, rules: Rules, now: float) -> None:
        self.state, self.rules, self.now = state, rules, now
        self.total = RunningTotal(_measured_state(state, target.kind))

    def selection(self, ids: Sequence[str]) -> Selection:
        """Images by ID, build-cache records by ``build:<ID>``, builders' by ``builder:<name>/<ID>``."""
        return Selection(
            images=tuple(i for i in ids if not i.startswith((RECORD, BUILDER))),
            build_records=tuple(i.removeprefix(RECORD) for i in ids if i.startswith(RECORD)),
            builder_records=tuple(i.removeprefix(BUILDER) for i in ids if i.startswith(BUILDER)),
            with_containers=self.rules.with_containers,
        )

    def weigh(self, ids: Sequence[str]) -> tuple[int, Plan]:
        plan = plan_removal(self.state, self.selection(ids), self.now)
        return self.total.update(removed_holders(plan)), plan


def _measured_state(state: EngineState, kind: TargetKind) -> EngineState:
    """The state whose running total is the target's measure: the engine's totals (``free``), their
    images' part (``images_under``), or the bytes on disk no holder keeps any more (``disk_free``)."""
    if kind == "free":
        return state
    units: dict[str, StoredUnit] = {}
    for key, unit in state.units.items():
        if kind == "images_under":
            units[key] = unit if KIND_CATEGORY[unit.kind] == "images" else replace(unit, bytes=0)
        else:
            units[key] = replace(
                unit, bytes=unit.disk_bytes or 0, counted_with_images=False, uncounted_under=()
            )
    return replace(state, units=units)


def images_total(state: EngineState) -> int:
    """``LayersSize`` as the state weighs it: the images' units the engine counts now."""
    total = RunningTotal(_measured_state(state, "images_under"))
    return sum(total.bytes[k] for k, counted in total.counted.items() if counted)


def choose(
    state: EngineState,
    target: Target,
    needed: int,
    rules: Rules,
    last_used: Mapping[str, LastUsed],
    now: float,
) -> Choice:
    """The least-harm removals that make the target's measure drop by ``needed`` bytes."""
    unmatched = tuple(unmatched_keeps(state, rules))
    notes = [f"--keep {g} matches no image here (kept nothing)" for g in unmatched]
    return replace(_search(state, target, needed, rules, last_used, now, notes), unmatched_keeps=unmatched)


def _search(
    state: EngineState,
    target: Target,
    needed: int,
    rules: Rules,
    last_used: Mapping[str, LastUsed],
    now: float,
    notes: list[str],
) -> Choice:
    candidates, kept = eligible(state, rules, last_used, now)
    records, kept_records = eligible_records(state, rules, last_used, now)
    kept += kept_records
    weigher = _Weigher(state, target, rules, now)
    alone = {i.id: _alone(weigher.total, i.id) for i in candidates}
    order = sorted(candidates, key=lambda i: (last_used[i.id].at, -alone[i.id], i.id))
    ids = _merged([i.id for i in order], records, last_used)
    if needed <= 0:
        return _choice(state, target, True, needed, 0, [], kept, weigher, last_used, notes)
    length = _shortest_prefix(weigher, ids, needed)
    if length is None:  # out of reach: everything these rules allow (not a tag removed for nothing)
        _, plan = weigher.weigh(ids)
        ids = [i for i in ids if _planned(i, plan)]
        most, _ = weigher.weigh(ids)
        notes.append(
            f"the target is out of reach: these rules free at most {human_size(most)} ({most:,} B) of the "
            f"{human_size(needed)} ({needed:,} B) needed; the images kept say what holds the rest"
        )
        return _choice(state, target, False, needed, most, ids, kept, weigher, last_used, notes)
    chosen = _reverse_pass(state, weigher, ids[:length], needed, quick=True)
    measured, _ = weigher.weigh(chosen)
    if measured < needed:  # the quick weighing misjudged a drop: the pass again, every trial planned
        chosen = _reverse_pass(state, weigher, ids[:length], needed, quick=False)
        measured, _ = weigher.weigh(chosen)
    return _choice(state, target, True, needed, measured, chosen, kept, weigher, last_used, notes)


def _planned(key: str, plan: Plan) -> bool:
    """Whether the plan removes the candidate of this key."""
    if key.startswith(RECORD):
        return key.removeprefix(RECORD) in plan.build_records
    if key.startswith(BUILDER):
        return key.removeprefix(BUILDER) in plan.builder_records
    return key in plan.removed_images


def _merged(images: list[str], records: list[str], last_used: Mapping[str, LastUsed]) -> list[str]:
    """The images (least recently used first) and the records (BuildKit's order), each kept in its own
    order, the one whose next item was used longer ago first (an image on a tie)."""
    merged: list[str] = []
    i = r = 0
    while i < len(images) and r < len(records):
        if last_used[images[i]].at <= last_used[records[r]].at:
            merged.append(images[i])
            i += 1
        else:
            merged.append(records[r])
            r += 1
    return merged + images[i:] + records[r:]


def _reverse_pass(
    state: EngineState, weigher: _Weigher, chosen: list[str], needed: int, *, quick: bool
) -> list[str]:
    """Most recently used first, drop each image the target does not need, again until none can be
    (after a drop a build-cache record an image kept uncounted may count). ``quick``: an image whose
    removal takes nothing but itself (and its containers) is weighed by taking its holders out of the
    plan's, without planning again."""
    parents = {i.parent_id for i in state.images if i.parent_id}
    by_id = {i.id: i for i in state.images}
    dropped = True
    while dropped:
        dropped = False
        _, plan = weigher.weigh(chosen)
        gone = removed_holders(plan)
        for image_id in reversed(list(chosen)):
            own = (
                _own_holders(state, weigher.rules, by_id, parents, set(chosen), image_id)
                if quick and not image_id.startswith((RECORD, BUILDER))
                else None
            )
            if own is not None and own <= gone:
                if weigher.total.update(gone - own) >= needed:
                    chosen = [i for i in chosen if i != image_id]
                    gone, dropped = gone - own, True
                continue
            trial = [i for i in chosen if i != image_id]
            if weigher.weigh(trial)[0] >= needed:
                chosen, dropped = trial, True
            gone = removed_holders(weigher.weigh(chosen)[1])
    return chosen


def _own_holders(
    state: EngineState,
    rules: Rules,
    by_id: Mapping[str, EngineImage],
    parents: set[str],
    chosen: set[str],
    image_id: str,
) -> set[str] | None:
    """The holders only this image's removal takes (itself, with ``--with-containers`` its containers),
    or None where leaving it changes more: images stand on it, or its parent is untagged (taken with its
    last child) or chosen too."""
    image = by_id[image_id]
    parent = by_id.get(image.parent_id) if image.parent_id else None
    if image_id in parents or (
        image.parent_id and (parent is None or not parent.tags or parent.id in chosen)
    ):
        return None
    own = {f"image:{image_id}"}
    if rules.with_containers:
        own |= {f"container:{c.id}" for c in state.containers if c.image_id == image_id}
    return own


def _alone(total: RunningTotal, image_id: str) -> int:
    freed = total.update({f"image:{image_id}"})
    total.update(set())
    return freed


def _shortest_prefix(weigher: _Weigher, ids: Sequence[str], needed: int) -> int | None:
    """The fewest leading candidates that free ``needed`` (None: all of them do not)."""
    low, high = 0, 1
    while True:
        high = min(high, len(ids))
        if weigher.weigh(ids[:high])[0] >= needed:
            break
        if high == len(ids):
            return None
        low, high = high, high * 2
    while high - low > 1:  # ids[:low] falls short, ids[:high] meets it
        middle = (low + high) // 2
        if weigher.weigh(ids[:middle])[0] >= needed:
            high = middle
        else:
            low = middle
    return high


def _choice(
    state: EngineState,
    target: Target,
    reached: bool,
    needed: int,
    measured: int,
    chosen: Sequence[str],
    kept: list[Kept],
    weigher: _Weigher,
    last_used: Mapping[str, LastUsed],
    notes: list[str],
) -> Choice:
    """Each chosen item's share in the order chosen (the running total of the plan so far), the plan.

    The plan is made once; each holder it removes is weighed in with the chosen item it goes with (a
    container with its image; anything else, such as a hidden parent, with the last item chosen), so
    the running total ends at the plan's figure without a plan per row."""
    images = {i.id: i for i in state.images}
    records = {record_key(r.id): r for r in state.build_cache}
    owners = {builder_key(b.name, r.id): b.name for b in state.builders for r in b.records or ()}
    records |= {builder_key(b.name, r.id): r for b in state.builders for r in b.records or ()}
    _, plan = weigher.weigh(chosen)
    gone = removed_holders(plan)
    # A record the engine would keep (another one that stays stands on it) is not one of the plan's.
    chosen = [k for k in chosen if k not in records or _planned(k, plan)]
    plan.matched_nothing = False  # an empty choice is the plan's answer, not a selection of nothing
    position = {key: n for n, key in enumerate(chosen)}
    image_of = {f"container:{c.id}": c.image_id for c in state.containers}
    steps: list[set[str]] = [set() for _ in chosen]
    for holder in gone:
        ident = image_of.get(holder) or (holder if holder in records else holder.partition(":")[2])
        if steps:
            steps[position.get(ident, len(steps) - 1)].add(holder)
    running = RunningTotal(state)  # rows in the engine's own measure, as freed_bytes
    rows: list[Chosen] = []
    before = 0
    for n, key in enumerate(chosen):
        total = running.add(steps[n])
        rows.append(
            Chosen(
                images.get(key),
                records.get(key),
                owners.get(key, ""),
                last_used=last_used[key],
                freed_bytes=total - before,
                total_bytes=total,
            )
        )
        before = total
    taken = set(chosen)
    # In a set order (the engine lists its images in no fixed one): the same state, the same plan.
    left = sorted((k for k in kept if k.key not in taken), key=lambda k: (k.kind, k.name, k.id))
    return Choice(
        target,
        reached,
        needed,
        measured,
        tuple(rows),
        tuple(left),
        plan,
        weigher.selection(chosen),
        tuple(notes),
    )
