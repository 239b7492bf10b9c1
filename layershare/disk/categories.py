"""Where the disk went: each category's bytes as the engine counts them, on disk, and what a prune frees.

``bytes`` is the engine's own figure where it has one (images: ``LayersSize``;
containers: each ``SizeRw``; volumes: each ``UsageData.Size``; build cache:
the records not shared with image layers, which ``docker system df -v``
prints as "Build cache usage"; builders: their state volumes' ``UsageData.Size``,
which ``docker system df`` counts as volumes) and the files' sizes elsewhere (logs,
metadata, orphans, what is left). ``disk_bytes`` is what one walk of the data
root found allocated, each inode once: the categories add up to the walk's
total exactly. ``reclaimable_bytes`` is what ``docker system prune -a
--volumes`` would take, in the ``bytes`` measure, planned on the engine's
holdings by the same planner as ``layershare free --like "docker system prune
-a --volumes"`` (:mod:`layershare.free`): images, containers, volumes and build
cache by the kind of stored unit that leaves the engine's totals; the logs of
the containers it removes; orphans only by hand, with the engine stopped;
metadata and unaccounted never.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from layershare.model import CATEGORIES, Category, DiskSnapshot, Usage


@dataclass(frozen=True)
class CategoryUsage:
    """One row of the summary; None where the figure is unknown from here (not root, a remote engine)."""

    category: Category
    bytes: int | None
    disk_bytes: int | None
    reclaimable_bytes: int | None


@dataclass(frozen=True)
class DiskReport:
    """One engine's disk, by category, with the items behind each."""

    snapshot: DiskSnapshot
    categories: tuple[CategoryUsage, ...]

    @property
    def on_disk_bytes(self) -> int | None:
        """Allocated bytes under the roots, as ``du -sx --block-size=1`` counts them."""
        sizes = [root.disk_bytes for root in self.snapshot.roots]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)

    def category(self, name: Category) -> CategoryUsage:
        """The row of one category."""
        return next(c for c in self.categories if c.category == name)


def sum_known(values: Sequence[int | None]) -> int | None:
    """The sum, or None (unknown) when any part is unknown."""
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def disk_report(snapshot: DiskSnapshot) -> DiskReport:
    """Categories and what a prune would reclaim, from one engine's disk snapshot."""
    walked = snapshot.walked
    unshared = [r for r in snapshot.build_cache if not r.shared]
    engine_bytes: dict[Category, int | None] = {
        "images": snapshot.layers_bytes,
        "containers": sum(c.size_rw_bytes for c in snapshot.containers),
        "volumes": sum_known([v.bytes for v in snapshot.volumes]),
        "build_cache": sum(r.bytes for r in unshared),
        "builders": sum_known([b.volume_bytes for b in snapshot.builders]),
        "inactive_store": sum(s.bytes for s in snapshot.inactive_stores),
    }
    reclaimable = _reclaimable(snapshot)
    rows = []
    for category in CATEGORIES:
        found = walked.get(category, Usage()) if walked is not None else None
        rows.append(
            CategoryUsage(
                category=category,
                bytes=engine_bytes.get(category, found.bytes if found else None),
                disk_bytes=found.disk_bytes if found is not None else None,
                reclaimable_bytes=reclaimable[category],
            )
        )
    return DiskReport(snapshot=snapshot, categories=tuple(rows))


def _reclaimable(snapshot: DiskSnapshot) -> dict[Category, int | None]:
    """What ``docker system prune -a --volumes`` takes from each category (None: unknown from here)."""
    unknown: dict[Category, int | None] = dict.fromkeys(CATEGORIES, None)
    state = snapshot.holdings
    if not snapshot.prune_rules or state is None:
        return unknown
    from layershare.free.holders import freed_by_category
    from layershare.free.prune import parse_prune
    from layershare.free.selection import Selection, plan_removal

    plan = plan_removal(state, Selection(prunes=(parse_prune(SYSTEM_PRUNE),)))
    freed = freed_by_category(state, plan)
    removed = set(plan.containers)
    gone = [c for c in snapshot.containers if c.id in removed]
    pruned_volumes = set(plan.volumes)
    walked = snapshot.walked
    return {
        **unknown,
        # A layer's size is known only from the engine's files: without them the engine's LayersSize
        # stands, and what a prune takes of it is not known from here when something runs.
        "images": freed["images"] if state.disk_readable else _images_unread(snapshot),
        "containers": freed["containers"],
        "logs": None if walked is None else sum_known([c.log.bytes if c.log else None for c in gone]),
        "volumes": sum_known([v.bytes for v in snapshot.volumes if v.name in pruned_volumes]),
        "build_cache": freed["build_cache"],
        # A builder's state volume is named: a prune takes it only below API 1.42, its container gone.
        "builders": sum_known(
            [b.volume_bytes for b in snapshot.builders if b.state_volume in pruned_volumes]
        ),
        "orphans": None if walked is None else sum(o.usage.bytes for o in snapshot.orphans),
        "inactive_store": 0,  # no prune reaches a store the engine no longer uses
        "other_namespaces": 0,  # nor another client's namespace
    }


def _images_unread(snapshot: DiskSnapshot) -> int | None:
    """Without the engine's files: all of ``LayersSize`` when no container runs, else unknown."""
    return snapshot.layers_bytes if not any(c.running for c in snapshot.containers) else None


SYSTEM_PRUNE = "docker system prune -a --volumes"
