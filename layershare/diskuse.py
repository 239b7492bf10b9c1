"""Where the disk went: each category's bytes as the engine counts them, on disk, and what a prune frees.

``bytes`` is the engine's own figure where it has one (images: ``LayersSize``;
containers: each ``SizeRw``; volumes: each ``UsageData.Size``; build cache:
the records not shared with image layers, which ``docker system df -v``
prints as "Build cache usage") and the files' sizes elsewhere (logs,
metadata, orphans, what is left). ``disk_bytes`` is what one walk of the data
root found allocated, each inode once: the categories add up to the walk's
total exactly. ``reclaimable_bytes`` is what ``docker system prune -a
--volumes`` would take, in the ``bytes`` measure: stopped containers and their
logs, the layers no running container's image keeps, unused volumes
(anonymous ones only from API 1.42, as the engine prunes), and the build
cache not in use; orphans only by hand, with the engine stopped; metadata and
unaccounted never.
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
    stopped = [c for c in snapshot.containers if not c.running]
    running = {c.name for c in snapshot.containers if c.running}
    unused = [v for v in snapshot.volumes if v.driver == "local" and not running.intersection(v.containers)]
    prunable = [v for v in unused if snapshot.volume_prune_all or v.anonymous]
    unshared = [r for r in snapshot.build_cache if not r.shared]
    engine_bytes: dict[Category, int | None] = {
        "images": snapshot.layers_bytes,
        "containers": sum(c.size_rw_bytes for c in snapshot.containers),
        "volumes": sum_known([v.bytes for v in snapshot.volumes]),
        "build_cache": sum(r.bytes for r in unshared),
    }
    kept = snapshot.kept_layers_bytes
    reclaimable: dict[Category, int | None] = {
        "images": None if kept is None else snapshot.layers_bytes - kept,
        "containers": sum(c.size_rw_bytes for c in stopped),
        "logs": None if walked is None else sum_known([c.log.bytes if c.log else None for c in stopped]),
        "volumes": sum_known([v.bytes for v in prunable]),
        "build_cache": sum(r.bytes for r in unshared if not r.in_use),
        "orphans": None if walked is None else sum(o.usage.bytes for o in snapshot.orphans),
        "metadata": None,
        "unaccounted": None,
    }
    if not snapshot.prune_rules:
        reclaimable = dict.fromkeys(CATEGORIES, None)
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
