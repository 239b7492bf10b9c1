"""BuildKit's rules for its cache records, applied to a plan: a prune down to a size (its gc mode and
``calculateKeepBytes``) and the removal of records asked for by ID. Read from BuildKit's cache manager
(``prune``, ``sortDeleteRecords``) and checked against real engines. No I/O.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping

from layershare.free.plan import Plan
from layershare.free.prune import BuildSpace
from layershare.model import BuildRecord, EngineState, version_tuple
from layershare.times import nanoseconds, rfc3339_nano

API_BUILD_SPACE = (1, 48)  # from this API version BuildKit's prune takes max-used and min-free space


def remove_records(state: EngineState, plan: Plan, ids: Iterable[str]) -> None:
    """``docker builder prune -a --filter id=…`` of records asked for by ID, one command each (the
    engine takes one value per filter), records standing on others first. A record in use, or one
    another record that stays stands on, stays."""
    records = {r.id: r for r in state.build_cache}
    wanted = [i for i in dict.fromkeys(ids) if i not in plan.build_records]
    refused: dict[str, str] = {}
    for rid in wanted:
        if records[rid].in_use:
            refused[rid] = f"build-cache record {rid[:12]} is in use by a build"
    changed = True
    while changed:  # a record another staying record stands on stays too
        changed = False
        for r in records.values():
            staying = r.id not in wanted or r.id in refused
            for parent in r.parents if staying else ():
                if parent in wanted and parent not in refused:
                    refused[parent] = f"build-cache record {r.id[:12]} stands on {parent[:12]}"
                    changed = True
    chosen = [i for i in wanted if i not in refused]
    for rid, why in refused.items():
        plan.refused.setdefault(f"build:{rid}", []).append(why)
    order = {rid: _record_depth(records, rid) for rid in chosen}
    for rid in sorted(chosen, key=lambda i: (-order[i], i)):
        plan.build_records.append(rid)
        plan.commands.append(f"docker builder prune -a -f --filter id={shlex.quote(rid)}")


def _record_depth(records: dict[str, BuildRecord], rid: str) -> int:
    depth, current, seen = 0, records[rid], {rid}
    while current.parents:
        parent = next((p for p in current.parents if p in records and p not in seen), None)
        if parent is None:
            break
        depth, current = depth + 1, records[parent]
        seen.add(parent)
    return depth


def keep_bytes(state: EngineState, plan: Plan, total: int, space: BuildSpace) -> int:
    """BuildKit's ``calculateKeepBytes``: what a prune with space limits keeps (0: no cap)."""
    reserved = space.reserved or space.keep_storage
    if version_tuple(state.engine.api_version) < API_BUILD_SPACE and (space.max_used or space.min_free):
        plan.notes.append(
            f"build cache: Engine {state.engine.version} (API {state.engine.api_version}) "
            "keeps no --max-used-space or --min-free-space (from API 1.48): only the reserved space counts"
        )
        return reserved
    free = state.build_cache_free_bytes
    if space.min_free:
        if free is None:
            plan.notes.append(
                "--min-free-space needs the free space of the engine's data root, which is not "
                "readable from here: the build cache's share is an estimate"
            )
        else:
            plan.notes.append(
                f"--min-free-space: the data root's file system has {free:,} bytes free now; "
                "BuildKit reads it again when it prunes"
            )
    return calculate_keep(total, reserved, space.max_used, space.min_free, free or 0)


def calculate_keep(total: int, reserved: int, max_used: int, min_free: int, free: int) -> int:
    """BuildKit's ``calculateKeepBytes`` for a cache of ``total`` bytes on a file system with ``free``
    bytes free: 0 where no limit is set (every match goes), else what the limits keep."""
    if not (reserved or max_used or min_free):
        return 0
    keep = max_used
    if min_free:
        excess = min_free - free
        if excess > 0:
            keep = total - excess if keep == 0 else min(keep, total - excess)
        elif keep == 0:
            keep = total  # enough free space: nothing goes
    return max(keep, reserved)


def after_size_reading(
    records: Iterable[BuildRecord], pending: Iterable[str], now_ns: int
) -> dict[str, BuildRecord]:
    """The records as BuildKit ranks them once a prune with space limits (or its GC) has read their sizes:
    each of ``pending`` (a mutable record with no immutable twin) used once more, now."""
    from dataclasses import replace

    waiting = set(pending)
    stamp = rfc3339_nano(now_ns)
    return {
        r.id: replace(r, usage_count=r.usage_count + 1, last_used=stamp) if r.id in waiting else r
        for r in records
    }


def prunable(
    record: BuildRecord, *, everything: bool, keep_duration_ns: int, filters: Iterable[str], now_ns: int
) -> bool:
    """Whether BuildKit's prune may take a record (``pruneOnce``): none a build holds, none shared,
    internal and frontend ones only with ``everything``, none used within the keep duration (one never
    used may go), those the filters match (``ValueError`` for a filter not reproduced)."""
    if record.in_use or record.shared:
        return False
    if not everything and record.type in ("internal", "frontend"):
        return False
    if keep_duration_ns:
        used = nanoseconds(record.last_used)
        if used is not None and used > now_ns - keep_duration_ns:
            return False
    return matches_filters(record, filters)


_FIELDS = {"type": "type", "id": "id", "description": "description"}


def matches_filters(record: BuildRecord, filters: Iterable[str]) -> bool:
    """Whether a record passes BuildKit's prune filters (containerd's syntax): any of ``filters``, each
    a comma-separated list of ``field==value``, ``field!=value``, ``field~=regexp`` or a bare field
    (``inuse``, ``shared``, ``private``) that all hold; no filter: every record. A field BuildKit has
    and layershare does not read (``parents``) raises ``ValueError``."""
    alternatives = _parsed(tuple(f for f in filters if f))
    if not alternatives:
        return True
    flags = {"inuse": record.in_use, "shared": record.shared, "private": not record.shared}
    for checks in alternatives:
        held = True
        for name, op, value in checks:
            if op == "":
                held = flags[name]
            else:
                actual = str(getattr(record, _FIELDS[name]) or ("regular" if name == "type" else ""))
                if op == "==":
                    held = actual == value
                elif op == "!=":
                    held = actual != value
                else:
                    held = re.search(value, actual) is not None
            if not held:
                break
        if held:
            return True
    return False


@functools.lru_cache(maxsize=64)
def _parsed(filters: tuple[str, ...]) -> tuple[tuple[tuple[str, str, str], ...], ...]:
    """Filters as (field, operator, value) checks, parsed once (``ValueError`` as :func:`matches_filters`)."""
    found = []
    for text in filters:
        checks = []
        for part in text.split(","):
            matched = re.fullmatch(r"\s*([a-z]+)\s*(==|!=|~=)?\s*(.*?)\s*", part)
            if not matched:
                raise ValueError(f"a build-cache filter {part!r} does not parse")
            name, op, value = matched.groups()
            known = _FIELDS if op else ("inuse", "shared", "private")
            if name not in known:
                raise ValueError(f"the build-cache filter {name!r} is not one layershare reproduces")
            if op == "~=":
                try:
                    re.compile(value)
                except re.error as e:
                    raise ValueError(
                        f"a build-cache filter {part!r} is no regular expression ({e})"
                    ) from None
            checks.append((name, op or "", value))
        found.append(tuple(checks))
    return tuple(found)


def prune_to(plan: Plan, records: dict[str, BuildRecord], removable: set[str], total: int, keep: int) -> None:
    """BuildKit's gc mode: while the unshared total is not under ``keep``, remove the next record of
    :func:`gc_order`."""
    gone: set[str] = set()
    for rid, tied in gc_order(records, removable):
        if total < keep:
            break
        if tied:
            plan.notes.append(
                "BuildKit ranks some build-cache records equally (last used at the same time, as "
                "often): which of them it prunes first is its choice, so the build cache's share "
                "is one of the possible outcomes"
            )
        gone.add(rid)
        total -= records[rid].bytes
    plan.build_records.extend(sorted(gone))


def gc_order(records: dict[str, BuildRecord], removable: set[str]) -> Iterator[tuple[str, bool]]:
    """The order BuildKit's gc mode removes ``removable`` records in, one at a time (take as many as
    needed): each time, among those no record still there stands on, the least recently and least often
    used, ranked afresh among them; with whether BuildKit may take another first (:func:`_tied`)."""
    used = {rid: nanoseconds(r.last_used) for rid, r in records.items()}
    children: dict[str, int] = dict.fromkeys(records, 0)
    for r in records.values():
        for parent in r.parents:
            if parent in children:
                children[parent] += 1
    leaves = {rid for rid in removable if rid in records and not children[rid]}
    while leaves:
        candidates = [records[i] for i in sorted(leaves)]
        rank = _gc_rank(candidates, used)
        first = min(candidates, key=rank.__getitem__)
        yield first.id, _tied(candidates, rank, first)
        leaves.discard(first.id)
        for parent in first.parents:
            if parent in children:
                children[parent] -= 1
                if not children[parent] and parent in removable:
                    leaves.add(parent)


def _gc_rank(
    records: list[BuildRecord], used: Mapping[str, int | None]
) -> dict[BuildRecord, tuple[float, int, int]]:
    """BuildKit's ``sortDeleteRecords`` order (lower goes first): the rank of a record's last use among
    the distinct last-use times plus the rank of its use count among the distinct counts, each divided
    by its highest rank (a record never used ranks first); equal scores keep the order of the two
    sorts before (fewer uses, then older use first), as Go's sort keeps it for up to 12 records.
    ``used``: each record's last use in nanoseconds."""
    times = sorted({t for r in records if (t := used[r.id]) is not None})
    counts = sorted({r.usage_count for r in records} - {0})
    time_rank: dict[int | None, int] = {t: n + 2 for n, t in enumerate(times)}
    count_rank = {c: n + 2 for n, c in enumerate(counts)}
    top_time, top_count = 1.0 + len(times), 1.0 + len(counts)
    return {
        r: (
            time_rank.get(used[r.id], 1) / top_time + count_rank.get(r.usage_count, 1) / top_count,
            r.usage_count,
            used[r.id] or -1,
        )
        for r in records
    }


SORT_STABLE_UP_TO = 12  # Go's pdqsort sorts this many by insertion (stable); more, not stably


def _tied(
    leaves: list[BuildRecord], rank: dict[BuildRecord, tuple[float, int, int]], first: BuildRecord
) -> bool:
    """Whether BuildKit may prune another record first: one as recently and as often used (its records
    come from a map, in no set order), or, past 12 candidates, one of the same score."""
    if len(leaves) > SORT_STABLE_UP_TO:
        return sum(1 for r in leaves if rank[r][0] == rank[first][0]) > 1
    return sum(1 for r in leaves if rank[r] == rank[first]) > 1
