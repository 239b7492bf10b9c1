"""``layershare tree`` as an indented text tree, ``layershare.tree/v1`` JSON, Graphviz dot and Mermaid.

``TREE_RENDERERS`` maps every :class:`~layershare.formats.TreeFormat` to one renderer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from layershare.formats import TreeFormat
from layershare.ids import short_id
from layershare.render.naming import describe_engine, engine_document
from layershare.report.tree import SharingTree, TreeNode
from layershare.units import human_size

TREE_SCHEMA = "layershare.tree/v1"


def node_label(tree: SharingTree, node: TreeNode) -> str:
    """The images ending at a node by their tags (else short IDs), or the chain point where images branch."""
    if not node.image_ids:
        return f"<branch {short_id(node.chain_id)}>"
    names = []
    for image_id in node.image_ids:
        tags = tree.tags.get(image_id, ())
        names.append(", ".join(tags) if tags else f"<none> {short_id(image_id)}")
    return " | ".join(names)


def tree_document(tree: SharingTree) -> dict[str, Any]:
    """The tree as JSON-ready data: nodes in depth-first order, parents and children by position."""
    return {
        "schema": TREE_SCHEMA,
        "collected_at": tree.collected_at,
        "engine": engine_document(tree.engine),
        "physical_bytes": tree.physical_bytes,
        "roots": list(tree.roots),
        "nodes": [
            {
                "position": position,
                "parent": node.parent,
                "children": list(node.children),
                "depth": node.depth,
                "chain_id": node.chain_id,
                "images": [{"id": i, "tags": list(tree.tags.get(i, ()))} for i in node.image_ids],
                "layers": list(node.layers),
                "own_bytes": node.own_bytes,
                "subtree_bytes": node.subtree_bytes,
                "image_bytes": tree.path_bytes(position),
            }
            for position, node in tree.walk()
        ],
    }


def _prefixes(tree: SharingTree) -> list[str]:
    """Box-drawing prefixes of every node, as ``tree(1)`` draws them."""
    prefixes = [""] * len(tree.nodes)
    below = [""] * len(tree.nodes)  # what a node's children start with
    for position, node in tree.walk():
        if node.parent is None:
            continue
        siblings = tree.nodes[node.parent].children
        last = siblings[-1] == position
        prefixes[position] = below[node.parent] + ("└── " if last else "├── ")
        below[position] = below[node.parent] + ("    " if last else "│   ")
    return prefixes


def _table(tree: SharingTree) -> str:
    prefixes = _prefixes(tree)
    rows = [
        [
            prefixes[position] + node_label(tree, node),
            human_size(node.own_bytes),
            len(node.layers),
            human_size(node.subtree_bytes),
            human_size(tree.path_bytes(position)),
        ]
        for position, node in tree.walk()
    ]
    headers = ["IMAGE", "ADDS", "LAYERS", "SUBTREE", "SIZE"]
    widths = [max([len(str(r[i])) for r in rows] + [len(headers[i])]) for i in range(len(headers))]

    def line(cells: list[object]) -> str:
        # By hand: tabulate strips the tree's leading spaces.
        first = str(cells[0]).ljust(widths[0])
        rest = "  ".join(str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return f"{first}  {rest}"

    table = "\n".join([line(list(headers)), *(line(r) for r in rows)])
    head = (
        f"{describe_engine(tree.engine)}\n"
        f"{len(tree.nodes)} chain points, {len(tree.roots)} roots, physical {human_size(tree.physical_bytes)} "
        f"({tree.physical_bytes:,} B)\n"
        "ADDS: its own layers' bytes; SUBTREE: it and everything built on it, each layer once; "
        "SIZE: the image's size\n\n"
    )
    return head + (table if rows else "(no images)") + "\n"


def _json(tree: SharingTree) -> str:
    return json.dumps(tree_document(tree), separators=(",", ":")) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _dot(tree: SharingTree) -> str:
    lines = ["digraph sharing {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for position, node in tree.walk():
        sizes = f"+{human_size(node.own_bytes)} ({human_size(node.subtree_bytes)})"
        style = ", style=dashed" if not node.image_ids else ""
        lines.append(f'  n{position} [label="{_dot_text(node_label(tree, node))}\\n{sizes}"{style}];')
        if node.parent is not None:
            lines.append(f"  n{node.parent} -> n{position};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _mermaid(tree: SharingTree) -> str:
    lines = ["flowchart LR"]
    for position, node in tree.walk():
        sizes = f"+{human_size(node.own_bytes)} ({human_size(node.subtree_bytes)})"
        lines.append(f'  n{position}["{_mermaid_text(node_label(tree, node))}<br/>{sizes}"]')
        if node.parent is not None:
            lines.append(f"  n{node.parent} --> n{position}")
    return "\n".join(lines) + "\n"


TREE_RENDERERS: dict[TreeFormat, Callable[[SharingTree], str]] = {
    TreeFormat.TABLE: _table,
    TreeFormat.JSON: _json,
    TreeFormat.DOT: _dot,
    TreeFormat.MERMAID: _mermaid,
}


def render_tree(tree: SharingTree, fmt: TreeFormat) -> str:
    """The sharing tree in one format."""
    return TREE_RENDERERS[fmt](tree)
