"""Files stored more than once across stored layers, and the shared layer that would store them once.

The figures (docs/dupes.md defines each; ``layershare.dupes/v1`` carries them):

- ``stored_files``, ``stored_bytes``: the stored copies (regular, non-empty files of each stored layer,
  each stored layer once by chain ID) and the sum of their lengths;
- ``duplicate_bytes``: for each content (SHA-256), (copies - 1) x length, summed: what a
  content-addressed store (composefs, reflinks) would save;
- ``consolidatable_bytes``: for copies with the same path, content, mode, uid and gid in two or more
  stored layers, (layers - 1) x length, summed: what one shared layer holding them would save.

The advice groups the consolidatable files by the set of stored layers that carry them (each file in
one suggestion only), largest saving first, with the images holding those layers, their folders and
the nearest image all of them are built on, where there is one.
"""

from __future__ import annotations

import posixpath
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from layershare.errors import ImageNotFound
from layershare.free.selection import resolve_reference
from layershare.model import DupesImage, DupesInput, StoredCopy

FOLDERS_SHOWN = 4


@dataclass(frozen=True)
class Group:
    """One content stored more than once: its digest, length, copies, the paths and stored layers that
    hold it, the images holding those layers, and how much of it one shared layer would save."""

    digest: str
    size: int
    copies: int
    paths: tuple[str, ...]
    layers: tuple[str, ...]
    images: tuple[DupesImage, ...]
    consolidatable: int

    @property
    def wasted(self) -> int:
        """What storing it once would save: (copies - 1) x length."""
        return (self.copies - 1) * self.size


@dataclass(frozen=True)
class Advice:
    """Files the same stored layers all carry (same path, content, mode and owner): one shared layer
    under the images holding them would store them once."""

    layers: tuple[str, ...]
    images: tuple[DupesImage, ...]
    files: int
    bytes: int  # one copy of each
    saving_bytes: int
    folders: tuple[tuple[str, int], ...]  # where they are: (folder, files), most first
    base: DupesImage | None  # the nearest image all of them are built on


@dataclass(frozen=True)
class DupesReport:
    source: str
    read_from: str
    images: tuple[DupesImage, ...]
    stored_layers: int
    unread: tuple[tuple[str, str], ...]  # (chain ID, why)
    stored_files: int
    stored_bytes: int
    duplicate_bytes: int
    consolidatable_bytes: int
    groups: tuple[Group, ...]
    advice: tuple[Advice, ...]


Key = tuple[str, str, int, int, int]  # path, digest, mode, uid, gid


def named(images: Sequence[DupesImage], references: Sequence[str]) -> tuple[DupesImage, ...]:
    """The images ``references`` name (every image when none), read as ``free`` reads them: a tag
    (``app`` is ``app:latest``), a glob, an ID or its first characters, a digest."""
    if not references:
        return tuple(images)
    ids: set[str] = set()
    for reference in references:
        hits = resolve_reference(images, reference)
        if not hits:
            raise ImageNotFound(f"no image matches {reference!r}")
        ids.update(image_id for image_id, _ in hits)
    return tuple(i for i in images if i.id in ids)


def analyse(found: DupesInput) -> DupesReport:
    """The figures, the duplicated contents and the advice of what ``dupes`` read."""
    holders: dict[str, list[DupesImage]] = defaultdict(list)
    for image in found.images:
        for chain in dict.fromkeys(image.chain_ids):
            holders[chain].append(image)
    read = {c: la for c, la in found.layers.items() if not la.unread}
    by_digest: dict[str, list[tuple[str, StoredCopy]]] = defaultdict(list)
    by_key: dict[Key, list[str]] = defaultdict(list)
    stored_files = stored_bytes = 0
    for chain, layer in read.items():
        for copy in layer.copies:
            stored_files += 1
            stored_bytes += copy.size
            if copy.digest is not None:
                by_digest[copy.digest].append((chain, copy))
                by_key[(copy.path, copy.digest, copy.mode, copy.uid, copy.gid)].append(chain)
    saved = {
        key: (len(chains) - 1) * _size(by_digest, key) for key, chains in by_key.items() if len(chains) > 1
    }
    saved_by_digest: Counter[str] = Counter()
    for key, saving in saved.items():
        saved_by_digest[key[1]] += saving
    groups = []
    for digest, copies in by_digest.items():
        if len(copies) < 2:
            continue
        layers = tuple(dict.fromkeys(chain for chain, _ in copies))
        groups.append(
            Group(
                digest,
                copies[0][1].size,
                len(copies),
                tuple(sorted({c.path for _, c in copies})),
                layers,
                _images_of(layers, holders),
                saved_by_digest[digest],
            )
        )
    groups.sort(key=lambda g: (-g.wasted, -g.size, g.digest))
    return DupesReport(
        source=found.source,
        read_from=found.read_from,
        images=found.images,
        stored_layers=len(found.layers),
        unread=tuple((c, la.unread) for c, la in found.layers.items() if la.unread),
        stored_files=stored_files,
        stored_bytes=stored_bytes,
        duplicate_bytes=sum(g.wasted for g in groups),
        consolidatable_bytes=sum(saved.values()),
        groups=tuple(groups),
        advice=_advice(by_key, by_digest, saved, holders),
    )


def _size(by_digest: dict[str, list[tuple[str, StoredCopy]]], key: Key) -> int:
    return by_digest[key[1]][0][1].size


def _images_of(layers: Sequence[str], holders: dict[str, list[DupesImage]]) -> tuple[DupesImage, ...]:
    return tuple({i.id: i for chain in layers for i in holders.get(chain, ())}.values())


def _advice(
    by_key: dict[Key, list[str]],
    by_digest: dict[str, list[tuple[str, StoredCopy]]],
    saved: dict[Key, int],
    holders: dict[str, list[DupesImage]],
) -> tuple[Advice, ...]:
    """One suggestion per set of stored layers carrying the same files, largest saving first."""
    sets: dict[tuple[str, ...], list[Key]] = defaultdict(list)
    for key in saved:
        sets[tuple(sorted(set(by_key[key])))].append(key)
    advice = []
    for layers, keys in sets.items():
        images = _images_of(layers, holders)
        folders = Counter(_folder(key[0]) for key in keys)
        advice.append(
            Advice(
                layers=layers,
                images=images,
                files=len(keys),
                bytes=sum(_size(by_digest, k) for k in keys),
                saving_bytes=sum(saved[k] for k in keys),
                folders=tuple(folders.most_common(FOLDERS_SHOWN)),
                base=_nearest_base(images, holders),
            )
        )
    advice.sort(key=lambda a: (-a.saving_bytes, a.layers))
    return tuple(advice)


def _folder(path: str) -> str:
    """A file's folder, summarised to at most three levels (``usr/lib/python3``)."""
    parts = posixpath.dirname(path).split("/")
    return "/" + "/".join(p for p in parts[:3] if p)


def _nearest_base(images: Sequence[DupesImage], holders: dict[str, list[DupesImage]]) -> DupesImage | None:
    """The image whose layers are the longest chain all ``images`` stand on (a tagged one first)."""
    if not images:
        return None
    common: list[str] = []
    for depth, chain in enumerate(images[0].chain_ids):
        if all(len(i.chain_ids) > depth and i.chain_ids[depth] == chain for i in images):
            common.append(chain)
        else:
            break
    while common:
        bases = [i for i in holders.get(common[-1], ()) if i.chain_ids == tuple(common)]
        if bases:
            return sorted(bases, key=lambda i: (not i.tags, i.tags, i.id))[0]
        common.pop()
    return None
