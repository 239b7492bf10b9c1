"""Which parents go with an image: the classic builder's intermediate images, removed with the image
that stands on them, each store by its own rule.

The containerd store (moby ``daemon/containerd/image_children.go`` ``parents`` and ``image_delete.go``
``deleteAll``, the same at ``v28.5.2`` and ``docker-v29.7.2``) walks the Parent labels to the root before
it deletes anything; a link that no longer resolves stops it all; it then removes the untagged parents no
container uses, nearest first, whatever other children they have. A graphdriver store (``daemon/images/
image_delete.go``) removes an untagged parent only when the removed image was its last child, up the
chain. No I/O: :class:`~layershare.free.engine_rules.EngineRules` plays these on a state, the report and
browse count what they take.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence


def label_chain(
    image_id: str, parent_of: Mapping[str, str], present: Collection[str]
) -> tuple[str, ...] | None:
    """The containerd store's walk of an image's parents (moby ``image_children.go`` ``parents``): every
    image its Parent label leads to, nearest first, up to the root, or None where a link no longer
    resolves (an image no longer ``present``: an earlier removal of a sibling took it, or a dangling
    prune did), and then the engine removes no parent at all."""
    chain: list[str] = []
    parent = parent_of.get(image_id, "")
    while parent:
        if parent not in present or parent in chain:
            return None
        chain.append(parent)
        parent = parent_of.get(parent, "")
    return tuple(chain)


def parents_taken(
    chain: Sequence[str] | None, named: Callable[[str], bool], used: Callable[[str], bool]
) -> tuple[str, ...]:
    """Which parents of a :func:`label_chain` the containerd store removes with the image (moby
    ``image_delete.go`` ``deleteAll``): nearest first, up to the first that has a name (it is not
    dangling) or that a container uses, running or stopped, by its exact ID; none where the chain is
    broken. (A removed image that still had several names takes none either: a request of
    layershare's commands removes one name, so its image has one left when it goes.)"""
    taken: list[str] = []
    for parent in chain or ():
        if named(parent) or used(parent):
            break
        taken.append(parent)
    return tuple(taken)


def parents_removed_with(
    images: Iterable[tuple[str, Sequence[str], str]], in_use: Collection[str], containerd: bool
) -> dict[str, tuple[str, ...]]:
    """Per image (ID, tags, parent ID): the parents that removing it alone (every tag, no container)
    removes too, nearest first, as :class:`EngineRules` plays it: on the containerd store
    :func:`parents_taken` of its :func:`label_chain`; on a graphdriver store an untagged parent no
    container uses that the removed image was the last child of, up the chain. Images with none are
    left out."""
    rows = list(images)
    parent_of = {image_id: parent for image_id, _, parent in rows}
    tagged = {image_id for image_id, tags, _ in rows if tags}
    taken: dict[str, tuple[str, ...]] = {}
    if containerd:
        for image_id, _, _ in rows:
            chain = parents_taken(
                label_chain(image_id, parent_of, parent_of), tagged.__contains__, in_use.__contains__
            )
            if chain:
                taken[image_id] = chain
        return taken
    children: dict[str, int] = {}
    for _, _, parent in rows:
        children[parent] = children.get(parent, 0) + 1
    for image_id, _, parent in rows:
        walked: list[str] = []
        while (
            parent in parent_of
            and parent not in tagged
            and parent not in in_use
            and parent not in walked
            and children[parent] == 1
        ):
            walked.append(parent)
            parent = parent_of[parent]
        if walked:
            taken[image_id] = tuple(walked)
    return taken
