"""Wasted bytes: file copies an image ships but nobody can see.

The layers are replayed in order onto a tree of paths, as the engine's
union filesystem stacks them. A copy of a file is *wasted* when a later layer
deletes it (whiteout), hides it (opaque folder) or overwrites it: its bytes
still sit in the layer that wrote it. Each wasted copy is counted once; the
copy that stays visible is never waste (unlike dive, issue 684).

Waste is split by who caused it: ``base_wasted_bytes`` were both written and
removed inside the base image's layers (nothing the image's own build can
change; dive issue 111), ``wasted_bytes`` were removed by the image's own
layers, wherever they were written.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

from layershare.model import FileEntry, ImageContent

How = Literal["deleted", "overwritten", "hidden"]


@dataclass(frozen=True)
class WastedFile:
    """One wasted copy: written by layer ``written_by``, removed by layer ``removed_by`` (0 = base layer)."""

    path: str
    size_bytes: int
    written_by: int
    removed_by: int
    how: How


@dataclass(frozen=True)
class Waste:
    """An image's wasted bytes; ``top`` holds the largest wasted copies, largest first."""

    content_bytes: int
    base_layers: int
    base_wasted_bytes: int
    wasted_bytes: int
    wasted_files: int
    top: tuple[WastedFile, ...]

    @property
    def wasted_ratio(self) -> float:
        """The image's own wasted bytes over all its bytes."""
        return self.wasted_bytes / self.content_bytes if self.content_bytes else 0.0

    @property
    def efficiency(self) -> float:
        """Bytes still visible over all bytes shipped (base waste included)."""
        if not self.content_bytes:
            return 1.0
        return 1 - (self.wasted_bytes + self.base_wasted_bytes) / self.content_bytes


class _Node:
    """A path in the replayed tree: a folder (``children``) or a leaf with bytes from ``layer``."""

    __slots__ = ("children", "layer", "size")

    def __init__(self, layer: int, size: int = 0, folder: bool = False) -> None:
        self.children: dict[str, _Node] | None = {} if folder else None
        self.layer = layer
        self.size = size


class _Replay:
    def __init__(self, base_layers: int, top: int) -> None:
        self.root = _Node(-1, folder=True)
        self.base_layers = base_layers
        self.top_n = top
        self.heap: list[tuple[int, int, WastedFile]] = []
        self.counter = 0
        self.base_wasted = 0
        self.wasted = 0
        self.files = 0

    def _record(self, path: str, node: _Node, removed_by: int, how: How) -> None:
        if node.size <= 0 or node.layer == removed_by:
            return  # replaced inside the layer that wrote it: never stored
        self.files += 1
        if removed_by < self.base_layers:
            self.base_wasted += node.size
        else:
            self.wasted += node.size
        if self.top_n <= 0:
            return
        item = (node.size, -self.counter, WastedFile(path, node.size, node.layer, removed_by, how))
        self.counter += 1
        if len(self.heap) < self.top_n:
            heapq.heappush(self.heap, item)
        elif item > self.heap[0]:
            heapq.heapreplace(self.heap, item)

    def _remove(self, path: str, node: _Node, removed_by: int, how: How, lower_only: bool = False) -> bool:
        """Record ``node``'s copies as wasted; returns True when the node itself is gone."""
        if node.children is None:
            if lower_only and node.layer >= removed_by:
                return False
            self._record(path, node, removed_by, how)
            return True
        for name in list(node.children):
            if self._remove(f"{path}/{name}", node.children[name], removed_by, how, lower_only):
                del node.children[name]
        return not lower_only

    def _folder(self, parts: list[str], layer: int) -> _Node:
        node = self.root
        path = ""
        for part in parts:
            path = f"{path}/{part}" if path else part
            assert node.children is not None
            child = node.children.get(part)
            if child is None or child.children is None:
                if child is not None:  # a file where a folder now goes
                    self._record(path, child, layer, "overwritten")
                child = node.children[part] = _Node(layer, folder=True)
            node = child
        return node

    def apply(self, entry: FileEntry, layer: int) -> None:
        parts = entry.path.split("/") if entry.path else []
        if entry.kind == "opaque":
            self._remove(entry.path, self._folder(parts, layer), layer, "hidden", lower_only=True)
            return
        if not parts:
            return
        parent = self._folder(parts[:-1], layer)
        assert parent.children is not None
        name = parts[-1]
        existing = parent.children.get(name)
        if entry.kind == "whiteout":
            if existing is not None:
                self._remove(entry.path, existing, layer, "deleted")
                del parent.children[name]
            return
        if entry.kind == "dir":
            if existing is None or existing.children is None:
                if existing is not None:
                    self._remove(entry.path, existing, layer, "overwritten")
                parent.children[name] = _Node(layer, folder=True)
            return
        if existing is not None:
            self._remove(entry.path, existing, layer, "overwritten")
        parent.children[name] = _Node(layer, entry.size_bytes)


def analyse_waste(content: ImageContent, base_layers: int = 0, *, top: int = 10) -> Waste:
    """Replay ``content``'s layers; the first ``base_layers`` of them are the base image's."""
    replay = _Replay(base_layers, top)
    for position, layer in enumerate(content.layers):
        for entry in layer.files:
            replay.apply(entry, position)
    largest = tuple(item[2] for item in sorted(replay.heap, reverse=True))
    return Waste(
        content_bytes=sum(layer.size_bytes for layer in content.layers),
        base_layers=base_layers,
        base_wasted_bytes=replay.base_wasted,
        wasted_bytes=replay.wasted,
        wasted_files=replay.files,
        top=largest,
    )
