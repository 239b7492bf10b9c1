"""Two saved disks (``layershare disk --format json``) compared: each category's change, and the
containers (writable layer and logs), volumes, build-cache records and orphans that came, went or grew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from layershare.model import SavedDisk


@dataclass(frozen=True)
class CategoryChange:
    """One category of ``layershare disk`` at two times (None where a side did not know it)."""

    category: str
    old_bytes: int | None
    new_bytes: int | None
    old_disk_bytes: int | None
    new_disk_bytes: int | None

    @property
    def bytes_change(self) -> int | None:
        """NEW's bytes minus OLD's, None when either is unknown."""
        return None if self.old_bytes is None or self.new_bytes is None else self.new_bytes - self.old_bytes

    @property
    def disk_bytes_change(self) -> int | None:
        """NEW's allocated bytes minus OLD's, None when either is unknown."""
        if self.old_disk_bytes is None or self.new_disk_bytes is None:
            return None
        return self.new_disk_bytes - self.old_disk_bytes


@dataclass(frozen=True)
class ItemChange:
    """A container (writable layer and logs), volume, build-cache record or orphan that came, went or grew."""

    kind: str
    name: str
    old_bytes: int | None
    new_bytes: int | None

    @property
    def change(self) -> Literal["added", "removed", "grown", "shrunk"]:
        """What happened to it."""
        if self.old_bytes is None:
            return "added"
        if self.new_bytes is None:
            return "removed"
        return "grown" if self.new_bytes > self.old_bytes else "shrunk"

    @property
    def size_change_bytes(self) -> int:
        """NEW's bytes minus OLD's (a missing side counts 0)."""
        return (self.new_bytes or 0) - (self.old_bytes or 0)


@dataclass(frozen=True)
class DiskDiff:
    """Two saved disks of an engine: each category's change and the items behind it."""

    old: SavedDisk
    new: SavedDisk
    categories: tuple[CategoryChange, ...]
    items: tuple[ItemChange, ...]

    @property
    def size_change_bytes(self) -> int | None:
        """The change of the allocated bytes under the data root (None where a side was not walked)."""
        if self.old.on_disk_bytes is None or self.new.on_disk_bytes is None:
            return None
        return self.new.on_disk_bytes - self.old.on_disk_bytes

    @property
    def added_bytes(self) -> int:
        """The growth of the categories that grew (in their ``bytes`` measure)."""
        return sum(max(0, c.bytes_change or 0) for c in self.categories)

    @property
    def removed_bytes(self) -> int:
        """The shrinking of the categories that shrank (in their ``bytes`` measure)."""
        return sum(max(0, -(c.bytes_change or 0)) for c in self.categories)


def diff_disks(old: SavedDisk, new: SavedDisk) -> DiskDiff:
    """Compare two saved disks category by category and item by item (items that did not change are left out)."""
    before = {c.category: c for c in old.categories}
    after = {c.category: c for c in new.categories}
    categories = tuple(
        CategoryChange(
            name,
            before[name].bytes if name in before else None,
            after[name].bytes if name in after else None,
            before[name].disk_bytes if name in before else None,
            after[name].disk_bytes if name in after else None,
        )
        for name in dict.fromkeys([*before, *after])
    )
    old_items = {(i.kind, i.key): i for i in old.items}
    new_items = {(i.kind, i.key): i for i in new.items}
    items = []
    for key in dict.fromkeys([*old_items, *new_items]):
        was, now = old_items.get(key), new_items.get(key)
        if was is not None and now is not None and was.bytes == now.bytes:
            continue
        item = now or was
        assert item is not None
        items.append(
            ItemChange(
                item.kind,
                item.name,
                None if was is None else (was.bytes or 0),
                None if now is None else (now.bytes or 0),
            )
        )
    items.sort(key=lambda i: (-abs(i.size_change_bytes), i.kind, i.name))
    return DiskDiff(old=old, new=new, categories=categories, items=tuple(items))
