"""``layershare plan``: which images to remove to reach a target, least recently used first, each
figure :func:`~layershare.free.whatif.what_if`'s (the engine's own accounting, a union).

No I/O: a state (:class:`~layershare.model.holdings.EngineState`), when each image was last used, a
target and the rules that protect images in; :func:`choose` returns the removals.

The choice: every image a removal may take (tagged, or untagged with no child; never one a container
uses unless ``with_containers`` and its containers are all stopped) that no rule protects, ordered by
when it was last used, oldest first (ties: the one that frees more alone first). The shortest prefix of
that order that meets the target is found by doubling then halving (what a prefix frees grows with
it, but where a build-cache record counts again once no image holds its layer), then a reverse pass
drops each chosen image the target does not need, most recently used first, and again until none
can be: no chosen image can be left out with the target still met.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from layershare.free.engine_rules import normalise_reference, repository
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
class Chosen:
    """An image the plan removes: what it adds to the plan's figure, in the plan's order, and the total."""

    image: EngineImage
    last_used: LastUsed
    freed_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class Kept:
    """An image the plan may not take, and why."""

    image: EngineImage
    reason: str


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


def resolve_uses(state: EngineState, uses: Mapping[str, float]) -> dict[str, float]:
    """The event journal's uses (an image ID, a short one, or a reference) by image ID, as the state
    names them now; what names no image here any more is left out."""
    ids = {i.id for i in state.images}
    by_tag = {normalise_reference(t): i.id for i in state.images for t in i.tags}
    found: dict[str, float] = {}
    for key, at in uses.items():
        image = key if key in ids else by_tag.get(normalise_reference(key))
        short = key if key.startswith("sha256:") else f"sha256:{key}"
        if image is None and len(short) >= 19 and all(c in "0123456789abcdef" for c in short[7:]):
            image = next((i for i in ids if i.startswith(short)), None)  # a short ID
        if image is not None:
            found[image] = max(found.get(image, 0.0), at)
    return found


def last_used_of(
    state: EngineState,
    tagged: Mapping[str, float],
    container_times: Mapping[str, float],
    events: Mapping[str, float] | None = None,
) -> dict[str, LastUsed]:
    """Each image's last use: the newest of the event journal's (by image ID: :func:`resolve_uses`), its
    containers' (started, finished or created), when it was last tagged, and when it was created."""
    by_image: dict[str, float] = {}
    for c in state.containers:
        at = container_times.get(c.id) or c.created
        by_image[c.image_id] = max(by_image.get(c.image_id, 0.0), at)
    found = {}
    for image in state.images:
        seen = [
            LastUsed(image.created, "created"),
            LastUsed(tagged.get(image.id, 0.0), "tagged"),
            LastUsed(by_image.get(image.id, 0.0), "container"),
            LastUsed((events or {}).get(image.id, 0.0), "event"),
        ]
        newest = max(seen, key=lambda u: u.at)  # the first of equal times: created before tagged
        found[image.id] = replace(newest, tagged_at=tagged.get(image.id, 0.0))
    return found


def _matches_keep(image: EngineImage, globs: Sequence[str]) -> str | None:
    for glob in globs:
        wanted = normalise_reference(glob) if not any(ch in glob for ch in "*?[") else glob
        for tag in image.tags:
            if fnmatch.fnmatchcase(tag, wanted) or fnmatch.fnmatchcase(tag, glob):
                return glob
    return None


def eligible(
    state: EngineState, rules: Rules, last_used: Mapping[str, LastUsed], now: float
) -> tuple[list[EngineImage], list[Kept]]:
    """The images a plan may take, and the others with why not."""
    parents = {i.parent_id for i in state.images if i.parent_id}
    users: dict[str, list[str]] = {}
    running: set[str] = set()
    for c in state.containers:
        users.setdefault(c.image_id, []).append(c.name)
        if c.running:
            running.add(c.image_id)
    newest: set[str] = set()
    if rules.keep_last is not None:
        by_repo: dict[str, list[EngineImage]] = {}
        for image in state.images:
            for repo in dict.fromkeys(repository(t) for t in image.tags):
                by_repo.setdefault(repo, []).append(image)
        for images in by_repo.values():
            images.sort(key=lambda i: (last_tagged(i, last_used), i.created, i.id), reverse=True)
            newest.update(i.id for i in images[: rules.keep_last])
    candidates: list[EngineImage] = []
    kept: list[Kept] = []
    for image in state.images:
        if not image.tags and image.id in parents:
            continue  # a hidden parent goes with its children, never on its own
        used = last_used[image.id]
        glob = _matches_keep(image, rules.keep)
        label = next((f for f in rules.keep_labels if f.matches(image.labels)), None)
        reason = ""
        if image.id in running:
            reason = "used by a running container"
        elif image.id in users and not rules.with_containers:
            reason = f"used by container {', '.join(sorted(users[image.id]))} (--with-containers removes stopped ones)"
        elif glob is not None:
            reason = f"kept: matches --keep {glob}"
        elif label is not None:
            reason = f"kept: label {label.key} (--keep-label)"
        elif image.id in newest:
            reason = f"kept: among the {rules.keep_last} newest of its repository (--keep-last)"
        elif now - used.at < rules.min_age:
            when = datetime.fromtimestamp(used.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            reason = f"kept: {used.source} {when}, within --min-age {human_duration(rules.min_age)}"
        if reason:
            kept.append(Kept(image, reason))
        else:
            candidates.append(image)
    return candidates, kept


def last_tagged(image: EngineImage, last_used: Mapping[str, LastUsed]) -> float:
    """When the image was last tagged, or created where the engine does not say."""
    used = last_used.get(image.id)
    return used.tagged_at if used is not None and used.tagged_at else image.created


def human_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


class _Weigher:
    """What a set of chosen images frees in the target's measure, planned by the engine's rules and
    weighed incrementally (:class:`~layershare.free.running.RunningTotal`)."""

    def __init__(self, state: EngineState, target: Target, rules: Rules, now: float) -> None:
        self.state, self.rules, self.now = state, rules, now
        self.total = RunningTotal(_measured_state(state, target.kind))

    def selection(self, ids: Sequence[str]) -> Selection:
        return Selection(images=tuple(ids), with_containers=self.rules.with_containers)

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
    candidates, kept = eligible(state, rules, last_used, now)
    weigher = _Weigher(state, target, rules, now)
    alone = {i.id: _alone(weigher.total, i.id) for i in candidates}
    order = sorted(candidates, key=lambda i: (last_used[i.id].at, -alone[i.id], i.id))
    ids = [i.id for i in order]
    notes: list[str] = []
    if needed <= 0:
        return _choice(state, target, True, needed, 0, [], kept, weigher, last_used, notes)
    length = _shortest_prefix(weigher, ids, needed)
    if length is None:  # out of reach: everything these rules allow (not a tag removed for nothing)
        _, plan = weigher.weigh(ids)
        ids = [i for i in ids if i in plan.removed_images]
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
            own = _own_holders(state, weigher.rules, by_id, parents, set(chosen), image_id) if quick else None
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
    """Each chosen image's share in the order chosen (the running total of the plan so far), the plan.

    The plan is made once; each holder it removes is weighed in with the chosen image it goes with (a
    container with its image; anything else, such as a hidden parent, with the last image chosen), so
    the running total ends at the plan's figure without a plan per row."""
    images = {i.id: i for i in state.images}
    _, plan = weigher.weigh(chosen)
    gone = removed_holders(plan)
    plan.matched_nothing = False  # an empty choice is the plan's answer, not a selection of nothing
    position = {image_id: n for n, image_id in enumerate(chosen)}
    image_of = {f"container:{c.id}": c.image_id for c in state.containers}
    steps: list[set[str]] = [set() for _ in chosen]
    for holder in gone:
        ident = image_of.get(holder, holder.partition(":")[2])
        if steps:
            steps[position.get(ident, len(steps) - 1)].add(holder)
    running = RunningTotal(state)  # rows in the engine's own measure, as freed_bytes
    rows: list[Chosen] = []
    removed: set[str] = set()
    before = 0
    for n, image_id in enumerate(chosen):
        removed |= steps[n]
        total = running.update(removed)
        rows.append(Chosen(images[image_id], last_used[image_id], total - before, total))
        before = total
    taken = set(chosen)
    left = [k for k in kept if k.image.id not in taken]
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
