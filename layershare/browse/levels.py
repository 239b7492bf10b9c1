"""One open level of browse's tree: which rows it shows (the filters, the sort) and what each row's
cells say (its mark, or why a marked item stays; its size in the chosen measure; its share)."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text

from layershare.browse.marks import Marks
from layershare.browse.rows import bar
from layershare.browse.session import EngineView
from layershare.browse.tree import Measure, Node, View
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

    def rows(self, filters: Sequence[str], sort: str, measure: Measure) -> list[Node]:
        """The rows shown: items matching any of ``filters`` (and this level's own filter), by size
        (largest first) or by name."""
        nodes = self.nodes
        if filters:
            nodes = [n for n in nodes if not n.markable or any(_matches(g, n.name) for g in filters)]
        if self.filter:
            nodes = [n for n in nodes if _matches(self.filter, n.name)]
        if sort == "size":
            return sorted(nodes, key=lambda n: (-(n.size(measure) or 0), n.name))
        return sorted(nodes, key=lambda n: n.name.lower())


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


def cells(node: Node, parent: int, marks: Marks | None, measure: Measure) -> list[Text]:
    """A row's cells: mark (``!`` where a marked item stays), size, share of the level, name, note."""
    size = node.size(measure)
    why = marks.why_kept(node.key) if marks is not None and node.markable else ""
    marked = marks is not None and node.key in marks.marked
    mark = Text("!" if why else ("●" if marked else " "), style="bold red" if why else "bold green")
    name = safe(node.name) + ("/" if node.opens and node.kind != "image" else "")
    note = Text(f"kept: {safe(why)}", style="red") if why else Text(safe(node.detail), style="dim")
    return [
        mark,
        Text("…" if size is None else human_size(size)),
        Text(bar((size or 0) / parent), style="cyan"),
        Text(name, style="bold" if marked else ""),
        note,
    ]


def _matches(pattern: str, name: str) -> bool:
    pattern, name = pattern.lower(), name.lower()
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name
