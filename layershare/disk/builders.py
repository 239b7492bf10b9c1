"""What a builder's garbage collector will do: at what size of its cache each rule of its policy starts
deleting, and what it deletes first, in BuildKit's own order (its ``cache/manager.go`` ``prune``,
``calculateKeepBytes`` and ``sortDeleteRecords``, reproduced in :mod:`layershare.free.build_cache`).

BuildKit runs its GC a second after each build (at most once a minute), rule after rule: a rule deletes
the records it allows (its filters; internal and frontend records only with ``all``; none a build holds;
none used within its keep duration), least recently and least often used first, while the cache is at
or over what its space limits keep. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from layershare.free.build_cache import after_size_reading, calculate_keep, gc_order, prunable
from layershare.model import BuildRecord
from layershare.model.builders import Builder, GCRule


@dataclass(frozen=True)
class RuleOutlook:
    """One rule: ``keep_bytes`` is the cache size it starts at (0: every record it allows, each run),
    ``deletes`` what its next run deletes now (the cache is over), else ``first`` the records it would
    delete first once the cache grows to ``keep_bytes``; ``allowed`` how many records it may delete."""

    index: int
    rule: GCRule
    keep_bytes: int
    allowed: int
    allowed_bytes: int
    deletes: tuple[BuildRecord, ...]
    first: tuple[BuildRecord, ...]


@dataclass(frozen=True)
class GCOutlook:
    """A builder's GC: its cache's size as BuildKit counts it, each rule's outlook, and what GC's next run
    deletes across all rules (nothing while the cache is under every rule's size)."""

    total_bytes: int
    rules: tuple[RuleOutlook, ...]
    free_known: bool

    @property
    def starts_at(self) -> RuleOutlook | None:
        """The rule that starts first as the cache grows (the smallest size among rules that may delete)."""
        able = [r for r in self.rules if r.allowed and r.keep_bytes]
        return min(able, key=lambda r: (r.keep_bytes, r.index)) if able else None

    @property
    def deletes_now(self) -> tuple[BuildRecord, ...]:
        return tuple(r for outlook in self.rules for r in outlook.deletes)


FIRST_SHOWN = 5


def gc_outlook(builder: Builder, now_ns: int) -> GCOutlook | None:
    """The outlook of a builder's GC (None: GC off, or its records or policy unknown)."""
    if builder.records is None or not builder.gc_enabled or not builder.gc_policy:
        return None
    # GC reads sizes before it sorts: the cache mounts and local sources a build just used count one more
    # use, now (what it ranks; what it deletes is the same records).
    records = after_size_reading(builder.records, builder.use_pending, now_ns)
    # BuildKit's DiskUsage total: unshared records; a mutable record a build holds counts 0.
    total = sum(r.bytes for r in records.values() if not r.shared and r.bytes > 0)
    free = builder.free_bytes
    outlooks = []
    gone: set[str] = set()
    for index, rule in enumerate(builder.gc_policy):
        allowed = {r.id for r in records.values() if r.id not in gone and _allowed(r, rule, now_ns)}
        keep = calculate_keep(total, rule.reserved_space, rule.max_used_space, rule.min_free_space, free or 0)
        order = gc_order({k: v for k, v in records.items() if k not in gone}, allowed)
        deletes: list[BuildRecord] = []
        first: list[BuildRecord] = []
        if keep == 0 or total >= keep:
            for rid, _tied in order:
                if keep and total < keep:
                    break
                deletes.append(records[rid])
                gone.add(rid)
                total -= max(records[rid].bytes, 0)
        else:
            first = [records[rid] for rid, _tied in islice(order, FIRST_SHOWN)]
        outlooks.append(
            RuleOutlook(
                index=index,
                rule=rule,
                keep_bytes=keep,
                allowed=len(allowed),
                allowed_bytes=sum(max(records[r].bytes, 0) for r in allowed),
                deletes=tuple(deletes),
                first=tuple(first),
            )
        )
    return GCOutlook(total_bytes=sum(max(r.bytes, 0) for r in records.values() if not r.shared),
                     rules=tuple(outlooks), free_known=free is not None)  # fmt: skip


def _allowed(record: BuildRecord, rule: GCRule, now_ns: int) -> bool:
    try:
        return prunable(
            record,
            everything=rule.all,
            keep_duration_ns=rule.keep_duration_ns,
            filters=rule.filters,
            now_ns=now_ns,
        )
    except ValueError:
        return False
