"""The sharing tree: every image placed by the layer chain it shares with others, like the tree
``docker images --tree`` drew before Docker 1.13.

A node is a point of the chain prefix tree where an image ends or where images
branch apart (an untagged chain point). Its own layers are the ones between its
parent node and it; ``own_bytes`` is what they add, ``subtree_bytes`` the
physical bytes of the node and everything built on it, each stored layer once.
So the own bytes on the way from a root down to an image add up to the image's
size (its layers), and the roots' subtree bytes add up to the physical bytes of
the layers the images use.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

from layershare.model import EngineInfo
from layershare.report.analysis import Report


@dataclass(frozen=True)
class TreeNode:
    """One chain point: the images ending there (none for a branch point) and the layers it adds.

    ``chain_id`` is its top layer's chain ID ("" for images with no layers);
    ``layers`` its own chain IDs, base first; ``parent`` and ``children`` are
    positions in :attr:`SharingTree.nodes`.
    """

    chain_id: str
    parent: int | None
    children: tuple[int, ...]
    image_ids: tuple[str, ...]
    layers: tuple[str, ...]
    own_bytes: int
    subtree_bytes: int
    depth: int


@dataclass(frozen=True)
class SharingTree:
    """The nodes in depth-first order (largest subtree first), the roots, and the images' names."""

    engine: EngineInfo
    collected_at: str
    nodes: tuple[TreeNode, ...]
    roots: tuple[int, ...]
    tags: dict[str, tuple[str, ...]]

    @property
    def physical_bytes(self) -> int:
        """The roots' subtree bytes: every layer the images use, once."""
        return sum(self.nodes[r].subtree_bytes for r in self.roots)

    def walk(self) -> Iterator[tuple[int, TreeNode]]:
        """Every node with its position, parents before children."""
        yield from enumerate(self.nodes)

    def path_bytes(self, position: int) -> int:
        """The own bytes from the root down to a node: the size of an image ending there."""
        total, current = 0, position
        while True:
            node = self.nodes[current]
            total += node.own_bytes
            if node.parent is None:
                return total
            current = node.parent


def sharing_tree(report: Report) -> SharingTree:
    """The sharing tree of the images a report covers."""
    index = report.index
    covered = report.images.index
    chains = index.chains.reindex(covered)
    sizes = index.layers["size_bytes"].to_dict()
    parent_of: dict[str, str | None] = {}
    fan_out: Counter[str | None] = Counter()
    ends: dict[str, list[str]] = {}
    for image_id, chain in chains.items():
        chain = chain if isinstance(chain, tuple) else ()
        top = chain[-1] if chain else ""
        ends.setdefault(top, []).append(str(image_id))
        previous: str | None = None
        for chain_id in chain:
            if chain_id not in parent_of:
                parent_of[chain_id] = previous
                fan_out[previous] += 1
            previous = chain_id
    points = set(ends) | {c for c, n in fan_out.items() if c is not None and n > 1}
    own: dict[str, list[str]] = {}
    up: dict[str, str | None] = {}
    for point in points:
        layers, current = [], point or None
        while current is not None:
            layers.append(current)
            current = parent_of[current]
            if current in points:
                break
        own[point] = layers[::-1]
        up[point] = current
    children: dict[str | None, list[str]] = {}
    for point in points:
        children.setdefault(up[point], []).append(point)
    subtree: dict[str, int] = {}

    def weigh(point: str) -> int:
        # Iterative post-order: chains can be thousands of nodes deep.
        stack, order = [point], []
        while stack:
            current = stack.pop()
            order.append(current)
            stack.extend(children.get(current, ()))
        for current in reversed(order):
            subtree[current] = sum(int(sizes[c]) for c in own[current]) + sum(
                subtree[c] for c in children.get(current, ())
            )
        return subtree[point]

    for root in children.get(None, ()):
        weigh(root)
    nodes: list[TreeNode] = []
    roots: list[int] = []

    def ordered(points_: list[str]) -> list[str]:
        return sorted(points_, key=lambda p: (-subtree[p], p))

    stack: list[tuple[str, int | None, int]] = [
        (p, None, 0) for p in reversed(ordered(children.get(None, [])))
    ]
    kids: dict[int, list[int]] = {}
    while stack:
        point, parent, depth = stack.pop()
        position = len(nodes)
        if parent is None:
            roots.append(position)
        else:
            kids.setdefault(parent, []).append(position)
        nodes.append(
            TreeNode(
                chain_id=point,
                parent=parent,
                children=(),
                image_ids=tuple(ends.get(point, ())),
                layers=tuple(own[point]),
                own_bytes=sum(int(sizes[c]) for c in own[point]),
                subtree_bytes=subtree[point],
                depth=depth,
            )
        )
        stack.extend((c, position, depth + 1) for c in reversed(ordered(children.get(point, []))))
    final = tuple(replace(n, children=tuple(kids.get(i, ()))) for i, n in enumerate(nodes))
    tags = {str(i): tuple(t) for i, t in index.images.loc[covered, "tags"].items()}
    return SharingTree(
        engine=index.engine, collected_at=index.collected_at, nodes=final, roots=tuple(roots), tags=tags
    )
