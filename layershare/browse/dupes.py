"""browse's ``dupes`` view: one row per content stored more than once (``layershare dupes``), its wasted
bytes and the images carrying it; opened, the images (to mark, as elsewhere), its paths and its layers."""

from __future__ import annotations

from collections.abc import Callable

from layershare.browse.node import Node
from layershare.dupes.analysis import DupesReport
from layershare.ids import short_id
from layershare.units import human_size

ROWS = 2000  # the contents that waste most; the rest are counted on one row


def dupe_nodes(report: DupesReport | None, images: Callable[[], list[Node]]) -> list[Node]:
    """The view's rows, or one row saying the files are being read."""
    if report is None:
        return [Node("dupes:reading", "note", "reading every stored layer's files… (layershare dupes)", None)]
    by_key = {n.key: n for n in images()}
    nodes = []
    for g in report.groups[:ROWS]:
        names = [i.tags[0] if i.tags else f"<none> {short_id(i.id)}" for i in g.images]
        more = f" (+{len(g.paths) - 1} paths)" if len(g.paths) > 1 else ""
        children = [by_key[f"image:{i.id}"] for i in g.images if f"image:{i.id}" in by_key]
        children += [Node(f"path:{g.digest}:{p}", "path", "/" + p, g.size, "a copy's path") for p in g.paths]
        children += [Node(f"stored:{g.digest}:{c}", "path", f"layer {short_id(c)}", g.size, "a stored layer holding it")
                     for c in g.layers]  # fmt: skip
        nodes.append(
            Node(
                f"dupe:{g.digest}",
                "dupe",
                f"/{g.paths[0]}{more}",
                g.wasted,
                f"{g.copies} x {human_size(g.size)} · {', '.join(names[:3])}"
                + (" …" if len(names) > 3 else ""),
                children=children,
            )
        )
    if len(report.groups) > ROWS:
        rest = report.groups[ROWS:]
        nodes.append(Node("dupes:more", "note", f"{len(rest):,} more contents (layershare dupes --format json lists them all)",
                          sum(g.wasted for g in rest)))  # fmt: skip
    if not nodes:
        nodes.append(Node("dupes:none", "note", "no content is stored more than once", 0))
    return nodes
