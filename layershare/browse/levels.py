"""One open level of browse's tree: which rows it shows (the filters, the sort) and what each row's
cells say (its mark, or why a marked item stays; its size in the chosen measure; its share)."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text

from layershare.browse.marks import Marks
from layershare.browse.node import Measure, Node, View
from layershare.browse.rows import BAR, bar
from layershare.browse.session import EngineView
from layershare.render.safe import visible as safe
from layershare.units import human_size


@dataclass
class Level:
    """One open level of the tree: its rows, where the cursor was, its filter."""

    title: str
    nodes: list[Node]
    engine: int | None  # which engine's rows (None: the engines themselves)
    cursor: int = 0
    filter: str = ""
    parent_key: str = ""
    shown: list[Node] = field(default_factory=list)
    layered: bool = False  # its rows are layers, which have an order of their own (bottom to top)
    blobs: bool = False  # layers that came as blobs (the containerd store): a column of their own

    def rows(self, filters: Sequence[str], sort: str, measure: Measure, empty: bool = False) -> list[Node]:
        """The rows shown: items matching any of ``filters`` (and this level's own filter), by size
        (largest first) or by name (layers: bottom to top); the history entries that made no layer
        only with ``empty``. Says too whether they are layers, and layers that came as blobs."""
        self.layered = any(n.kind == "layer" for n in self.nodes)
        self.blobs = self.layered and any(name.startswith("blob") for n in self.nodes for name, _ in n.parts)
        nodes = self.nodes if empty else [n for n in self.nodes if n.kind != "empty"]
        if filters:
            nodes = [n for n in nodes if not n.markable or any(_matches(g, n.name) for g in filters)]
        if self.filter:
            nodes = [n for n in nodes if _matches(self.filter, n.name)]
        if sort == "size":
            return sorted(nodes, key=lambda n: (-(n.size(measure) or 0), n.name))
        if self.layered:
            return sorted(nodes, key=lambda n: n.order)
        return sorted(nodes, key=lambda n: n.name.lower())

    def count(self, empty: bool) -> str:
        """How many rows are shown, and how to show the instructions that made no layer (``e``)."""
        without = sum(1 for n in self.nodes if n.kind == "empty")
        if not without:
            return f"{len(self.shown)} rows"
        return f"{len(self.shown)} rows; e {'hides' if empty else 'shows'} {without} made no layer"


def top_level(views: Sequence[EngineView], view: View) -> Level:
    """The first level: the view's rows of the one engine, or one row per engine to open."""
    if len(views) == 1:
        return Level(view, views[0].tree.roots(view), 0)
    nodes = []
    for number, engine in enumerate(views):
        total = sum(n.bytes or 0 for n in engine.tree.roots(view) if n.kind != "category")
        if view == "disk":
            total = sum(n.bytes or 0 for n in engine.tree.categories())
        nodes.append(Node(f"engine:{number}", "engine", engine.label, total, load=list))
    return Level("engines", nodes, None)


def headers(level: Level) -> tuple[str, ...]:
    """The columns' titles: a layer level of the containerd store shows each layer's blob (what the
    layer came as, compressed) where other levels show a bar; its size is its snapshot's and its blob's."""
    if level.blobs:
        return (" ", "SIZE", "BLOB", "INSTRUCTION", "LAYER · WHO ELSE HOLDS IT")
    if level.layered:
        return (" ", "SIZE", "SHARE", "INSTRUCTION", "LAYER · WHO ELSE HOLDS IT")
    if any(n.kind == "dupe" for n in level.nodes[:1]):
        return (" ", "WASTED", "SHARE", "CONTENT (A PATH OF IT)", "COPIES · IMAGES")
    return (" ", "SIZE", "SHARE", "NAME", "")


def cells(node: Node, parent: int, marks: Marks | None, measure: Measure, blobs: bool = False) -> list[Text]:
    """A row's cells: mark (``!`` where a marked item stays), size, share of the level (``blobs``: the
    layer's blob), name, note."""
    size = node.size(measure)
    why = marks.why_kept(node.key) if marks is not None and node.markable else ""
    marked = marks is not None and node.key in marks.marked
    mark = Text("!" if why else ("●" if marked else " "), style="bold red" if why else "bold green")
    name = safe(node.name) + (
        "/" if node.opens and node.kind not in ("image", "layer", "other", "dupe") else ""
    )
    note = Text(f"kept: {safe(why)}", style="red") if why else Text(safe(node.detail), style="dim")
    return [
        mark,
        Text("…" if size is None else human_size(size)),
        blob_cell(node) if blobs else Text(bar((size or 0) / parent), style="cyan"),
        Text(name, style="bold" if marked else ""),
        note,
    ]


def blob_cell(node: Node) -> Text:
    """A layer's blob as the engine counts it, right-aligned; ``↑`` where an earlier row counts it."""
    found = dict(node.parts)
    if "blob" in found:
        return Text(human_size(found["blob"]).rjust(BAR - 1), style="cyan")
    return Text("↑ above".rjust(BAR - 1), style="cyan") if "blob above" in found else Text("")


def _matches(pattern: str, name: str) -> bool:
    pattern, name = pattern.lower(), name.lower()
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name
