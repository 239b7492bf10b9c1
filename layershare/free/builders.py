"""What ``docker buildx prune --builder NAME`` and ``docker buildx rm NAME`` take from a buildx builder,
as BuildKit and buildx do it (BuildKit v0.32's ``cache/manager.go`` ``prune``; buildx v0.29's
``commands/prune.go`` and ``driver/docker-container``'s ``Rm``). No I/O.

- a prune takes every record it allows: none a build holds, none BuildKit calls shared, internal and
  frontend ones only with ``-a``, none used within ``until``, those the filters match; a record another
  record that stays stands on stays; with space limits, one record at a time in BuildKit's GC order while
  the cache is at or over what they keep (:mod:`layershare.free.build_cache`);
- ``buildx rm`` stops and removes the container and removes the state volume with it (every record),
  unless ``--keep-state``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable

from layershare.errors import UsageError
from layershare.free.build_cache import after_size_reading, calculate_keep, gc_order, prunable
from layershare.free.plan import Plan
from layershare.free.prune import PruneCommand
from layershare.model import BuildRecord, EngineState
from layershare.model.builders import Builder


def builder_named(state: EngineState, name: str) -> Builder:
    """The builder ``name`` on the engine; UsageError naming those there are where it is not."""
    for builder in state.builders:
        if builder.name == name:
            return builder
    there = ", ".join(sorted(b.name for b in state.builders)) or "none"
    raise UsageError(f"no buildx builder named {name!r} on this engine (its builders: {there})")


def prune_builder(state: EngineState, plan: Plan, prune: PruneCommand, now: float) -> None:
    """``docker buildx prune --builder NAME …`` on the plan."""
    builder = builder_named(state, prune.builder)
    if builder.records is None:
        plan.notes.append(
            f"builder {builder.name}: its records are not known from here ({builder.unread_why})"
        )
        return
    if not builder.running:
        plan.notes.append(
            f"builder {builder.name} is stopped: buildx starts it to prune (its container runs again)"
        )
    records = {r.id: r for r in builder.records}
    now_ns, keep_ns = int(now * 1e9), int(prune.keep_duration * 1e9)
    try:
        removable = {
            r.id
            for r in records.values()
            if prunable(
                r, everything=prune.all, keep_duration_ns=keep_ns, filters=prune.record_filters, now_ns=now_ns
            )
        }
    except ValueError as e:
        raise UsageError(f"--like {prune.text!r}: {e}") from None
    total = sum(r.bytes for r in records.values() if not r.shared and r.bytes > 0)
    space = prune.space
    keep = calculate_keep(
        total, space.reserved or space.keep_storage, space.max_used, space.min_free, builder.free_bytes or 0
    )
    if space.min_free and builder.free_bytes is None:
        plan.notes.append(
            f"builder {builder.name}: --min-free-space needs the free space under its state, not readable "
            "from here: its share is an estimate"
        )
    if keep:
        ranked = after_size_reading(records.values(), builder.use_pending, now_ns)
        gone = _gc_mode(plan, ranked, removable, total, keep, builder.name)
    else:
        gone = _leaves_first(records, removable)
    plan.builder_records.extend(f"{builder.name}/{rid}" for rid in gone)


def remove_builder(
    state: EngineState, plan: Plan, prune: PruneCommand, remove_containers: Callable[..., None]
) -> None:
    """``docker buildx rm NAME``: its container (stopped first, by ``remove_containers``, the engine's
    rule) and, unless ``--keep-state``, its state volume with every record."""
    builder = builder_named(state, prune.builder)
    plan.builders.append(builder.name)
    if builder.container_id:
        remove_containers([builder.container_id], command=None)
    if prune.keep_state:
        return
    if builder.state_volume not in plan.volumes:
        plan.volumes.append(builder.state_volume)
    with_volume(state, plan)


def with_volume(state: EngineState, plan: Plan) -> None:
    """Every record of a builder whose state volume the plan removes goes with it."""
    for builder in state.builders:
        if builder.state_volume in plan.volumes:
            for r in builder.records or ():
                key = f"{builder.name}/{r.id}"
                if key not in plan.builder_records:
                    plan.builder_records.append(key)


def _leaves_first(records: dict[str, BuildRecord], removable: set[str]) -> list[str]:
    """Every removable record but those a staying record stands on (BuildKit prunes until nothing more
    goes: a parent goes once its children did)."""
    kept = set(removable)
    changed = True
    while changed:
        changed = False
        for r in records.values():
            if r.id not in kept:
                for parent in r.parents:
                    if parent in kept:
                        kept.discard(parent)
                        changed = True
    return sorted(kept)


def _gc_mode(
    plan: Plan, records: dict[str, BuildRecord], removable: set[str], total: int, keep: int, name: str
) -> list[str]:
    gone = []
    for rid, tied in gc_order(records, removable):
        if total < keep:
            break
        if tied:
            note = (
                f"builder {name}: BuildKit ranks some records equally (last used at the same time, as often): "
                "which of them it prunes first is its choice, so this is one of the possible outcomes"
            )
            if note not in plan.notes:
                plan.notes.append(note)
        gone.append(rid)
        total -= max(records[rid].bytes, 0)
    return gone


def remove_builder_records(state: EngineState, plan: Plan, keys: Iterable[str]) -> None:
    """Records of buildx builders asked for one by one (``<builder>/<id>``, what ``plan --build-cache``
    chooses): ``docker buildx prune --builder NAME -a -f --filter id=^ID$`` each, records standing on
    others first. One in use, or one a record that stays stands on, stays."""
    by_builder: dict[str, list[str]] = {}
    for key in dict.fromkeys(keys):
        name, _, rid = key.partition("/")
        if key not in plan.builder_records:
            by_builder.setdefault(name, []).append(rid)
    for name, wanted in by_builder.items():
        builder = builder_named(state, name)
        records = {r.id: r for r in builder.records or ()}
        refused = {rid: f"record {rid[:12]} of builder {name} is in use by a build" for rid in wanted
                   if rid in records and records[rid].in_use}  # fmt: skip
        changed = True
        while changed:  # a record another staying record stands on stays too
            changed = False
            for r in records.values():
                if r.id in wanted and r.id not in refused:
                    continue
                for parent in r.parents:
                    if parent in wanted and parent not in refused:
                        refused[parent] = f"record {r.id[:12]} of builder {name} stands on {parent[:12]}"
                        changed = True
        for rid, why in refused.items():
            plan.refused.setdefault(f"builder:{name}/{rid}", []).append(why)
        chosen = [rid for rid in wanted if rid in records and rid not in refused]
        depth = {rid: _depth(records, rid) for rid in chosen}
        for rid in sorted(chosen, key=lambda i: (-depth[i], i)):
            plan.builder_records.append(f"{name}/{rid}")
            plan.commands.append(
                f"docker buildx prune --builder {shlex.quote(name)} -a -f --filter {shlex.quote(f'id=^{rid}$')}"
            )


def _depth(records: dict[str, BuildRecord], rid: str) -> int:
    depth, current, seen = 0, records[rid], {rid}
    while True:
        parent = next((p for p in current.parents if p in records and p not in seen), None)
        if parent is None:
            return depth
        depth, current = depth + 1, records[parent]
        seen.add(parent)
