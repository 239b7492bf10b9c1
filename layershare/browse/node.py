"""A row of browse's tree (:class:`Node`), the views and the measures: plain data, no terminal."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

View = Literal["disk", "images", "containers", "volumes", "cache", "layers", "dupes"]
VIEWS: tuple[View, ...] = ("disk", "images", "containers", "volumes", "cache", "layers", "dupes")
Measure = Literal["unique", "shared", "attributed"]
MEASURES: tuple[Measure, ...] = ("unique", "shared", "attributed")
FILES_SHOWN = 50  # a layer's largest files
METADATA = "index, manifests, config; the classic builder's step snapshots"


@dataclass
class Node:
    """One row: ``key`` is the holder it stands for where it can be marked (``image:<id>``,
    ``container:<id>``, ``volume:<name>``, ``build:<id>``), else a key of its own."""

    key: str
    kind: str
    name: str
    bytes: int | None
    detail: str = ""
    markable: bool = False
    sizes: Mapping[Measure, int] = field(default_factory=dict)
    children: list[Node] | None = None
    load: Callable[[], list[Node]] | None = None
    order: int = 0  # a layer's place, bottom to top
    parts: tuple[tuple[str, int], ...] = ()  # a layer's figures: its snapshot's and its blob's

    def size(self, measure: Measure) -> int | None:
        """The row's bytes; an image's in the chosen measure."""
        return self.sizes.get(measure, self.bytes) if self.sizes else self.bytes

    @property
    def opens(self) -> bool:
        return bool(self.children) or self.load is not None
