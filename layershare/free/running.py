"""The running total of what the marked items free, kept incrementally.

Each key press changes the plan (:func:`~layershare.free.selection.plan_removal`) by a few holders;
:class:`RunningTotal` then re-weighs only the stored units those holders keep (and the build-cache
records counted under them), with the same rule as :func:`~layershare.free.holders.counted_units`:
a unit counts in the engine's totals while something holds it, unless it counts only with images
and no image holds it, or an image holds a unit it is counted under. So the total is always
``what_if(state, plan).freed_bytes``, a union: a layer two marked images share counts once.
"""

from __future__ import annotations

from collections.abc import Iterable

from layershare.free.holders import holding_pairs
from layershare.model import EngineState


class RunningTotal:
    """``freed_bytes`` of a set of removed holders (``image:<id>``, ``container:<id>``, ``volume:<name>``,
    ``build:<id>``, ``other:garbage``), updated by the holders that changed since the last call."""

    def __init__(self, state: EngineState) -> None:
        self.bytes = {key: unit.bytes for key, unit in state.units.items()}
        self.with_images = {key for key, unit in state.units.items() if unit.counted_with_images}
        self.under = {key: unit.uncounted_under for key, unit in state.units.items() if unit.uncounted_under}
        self.counted_under: dict[str, list[str]] = {}
        for key, unders in self.under.items():
            for u in unders:
                self.counted_under.setdefault(u, []).append(key)
        self.units_of: dict[str, list[str]] = {}
        for holder, unit in holding_pairs(state):
            self.units_of.setdefault(holder, []).append(unit)
        self.holders = dict.fromkeys(self.bytes, 0)
        self.image_holders = dict.fromkeys(self.bytes, 0)
        for holder, units in self.units_of.items():
            image = holder.startswith("image:")
            for unit in units:
                self.holders[unit] += 1
                self.image_holders[unit] += image
        self.counted = {key: self._counts(key) for key in self.bytes}
        self.at_first = dict(self.counted)
        self.removed: set[str] = set()
        self.freed_bytes = 0

    def _counts(self, key: str) -> bool:
        if not self.holders[key]:
            return False
        if key in self.with_images and not self.image_holders[key]:
            return False
        return not any(self.image_holders.get(u, 0) for u in self.under.get(key, ()))

    def left(self) -> set[str]:
        """The units no longer counted since the first call: what the removed holders took out of the totals."""
        return {key for holder in self.removed for key in self.units_of.get(holder, ()) if
                self.at_first[key] and not self.counted[key]}  # fmt: skip

    def update(self, removed: Iterable[str]) -> int:
        """The bytes freed once ``removed`` (every removed holder) is gone; only the change is weighed."""
        wanted = set(removed)
        return self._apply(wanted - self.removed, self.removed - wanted)

    def add(self, holders: Iterable[str]) -> int:
        """The bytes freed once ``holders`` go too, beside those removed already: only they are weighed
        (a plan's rows, one after the other, without the whole set each time)."""
        return self._apply({h for h in holders if h not in self.removed}, set())

    def _apply(self, gone: set[str], back: set[str]) -> int:
        touched: set[str] = set()
        for holders, step in ((gone, -1), (back, 1)):
            for holder in holders:
                image = holder.startswith("image:")
                for unit in self.units_of.get(holder, ()):
                    self.holders[unit] += step
                    if image:
                        self.image_holders[unit] += step
                    touched.add(unit)
        self.removed |= gone
        self.removed -= back
        for key in touched | {k for u in touched for k in self.counted_under.get(u, ())}:
            now = self._counts(key)
            if now != self.counted[key]:
                self.counted[key] = now
                self.freed_bytes += -self.bytes[key] if now else self.bytes[key]
        return self.freed_bytes
