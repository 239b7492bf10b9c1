"""Files two images differ in: replay each image's layers to the files a container would see.

Layers are replayed as the union filesystem stacks them (a whiteout deletes a path and what
is under it, an opaque folder hides what lower layers put in it, a later copy replaces an
earlier one). Files the common layers wrote and neither image's own layers touched are the
same in both and are skipped. A file both images have but that a layer of only one of them
wrote again is *changed*, even when its size is the same: a layer's tar carries no digest
of each file, so two writes of the same bytes cannot be told apart without reading them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from layershare.model import FileEntry, FileKind, ImageContent

Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class FileChange:
    """One path that differs; ``old_bytes``/``new_bytes`` are None on the side it is missing from.

    ``layer`` is the position (0 = base) of the NEW layer that wrote it, or for a removed file
    of the OLD layer that wrote it.
    """

    path: str
    change: Change
    old_bytes: int | None
    new_bytes: int | None
    layer: int

    @property
    def size_change_bytes(self) -> int:
        """NEW's bytes minus OLD's."""
        return (self.new_bytes or 0) - (self.old_bytes or 0)


@dataclass(frozen=True)
class FileChanges:
    """Every differing path, largest change first, and the counts."""

    changes: tuple[FileChange, ...]

    def count(self, change: Change) -> int:
        """How many paths were ``change``."""
        return sum(1 for c in self.changes if c.change == change)


# A folder maps names to nodes; a leaf is (layer, size, kind).
_Leaf = tuple[int, int, FileKind]
_Folder = dict[str, "_Folder | _Leaf"]


def _folder(root: _Folder, parts: list[str]) -> _Folder:
    node = root
    for part in parts:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    return node


def _hide_lower(folder: _Folder, layer: int) -> None:
    for name in list(folder):
        child = folder[name]
        if isinstance(child, dict):
            _hide_lower(child, layer)
        elif child[0] < layer:
            del folder[name]


def _apply(root: _Folder, entry: FileEntry, layer: int) -> None:
    parts = entry.path.split("/") if entry.path else []
    if entry.kind == "opaque":
        _hide_lower(_folder(root, parts), layer)
        return
    if not parts:
        return
    parent = _folder(root, parts[:-1])
    name = parts[-1]
    if entry.kind == "whiteout":
        parent.pop(name, None)
    elif entry.kind == "dir":
        if not isinstance(parent.get(name), dict):
            parent[name] = {}
    else:
        parent[name] = (layer, entry.size_bytes, entry.kind)


def _leaves(folder: _Folder, prefix: str = "") -> Iterator[tuple[str, _Leaf]]:
    for name, child in folder.items():
        path = f"{prefix}/{name}" if prefix else name
        if isinstance(child, dict):
            yield from _leaves(child, path)
        else:
            yield path, child


def visible_files(content: ImageContent) -> dict[str, _Leaf]:
    """The files (not folders) a container of the image sees: path -> (layer, bytes, kind)."""
    root: _Folder = {}
    for position, layer in enumerate(content.layers):
        for entry in layer.files:
            _apply(root, entry, position)
    return dict(_leaves(root))


def diff_files(old: ImageContent, new: ImageContent, common_layers: int) -> FileChanges:
    """The files NEW adds, removes and changes over OLD; the first ``common_layers`` are shared."""
    before = visible_files(old)
    after = visible_files(new)
    changes = []
    for path, (layer, size, _kind) in after.items():
        was = before.pop(path, None)
        if was is None:
            changes.append(FileChange(path, "added", None, size, layer))
        elif not (was[0] == layer < common_layers):
            changes.append(FileChange(path, "changed", was[1], size, layer))
    changes.extend(
        FileChange(path, "removed", size, None, layer) for path, (layer, size, _) in before.items()
    )
    changes.sort(key=lambda c: (-abs(c.size_change_bytes), c.path))
    return FileChanges(tuple(changes))
