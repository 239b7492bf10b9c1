"""The files each stored layer holds, for ``layershare dupes``: plain data, no I/O.

A stored layer is what the store keeps once: a chain ID (the same diff ID on another parent is stored
again). A stored copy is a regular, non-empty file in a stored layer: hard links inside one layer count
once; whiteouts, opaque markers, symlinks, devices and folders are not files; files hidden by upper
layers are still stored, and count.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredCopy:
    """One stored copy: its path in the layer (no leading ``/``), length, permission bits, owner, and
    content digest (``sha256:…``); ``digest`` None where no other copy has its length (and CRC-64), so
    no other copy can hold its content (it was not read). ``crc64`` is the content's CRC-64 where the
    store keeps one (overlay2's tar-split), which tells most same-length files apart unread."""

    path: str
    size: int
    mode: int
    uid: int
    gid: int
    digest: str | None = None
    crc64: str | None = None


@dataclass(frozen=True)
class LayerFiles:
    """What one stored layer holds: its chain ID, the diff ID it was unpacked from, its stored copies;
    ``unread`` says why it could not be read (a file vanished, a permission), its copies then left out."""

    chain_id: str
    diff_id: str
    copies: tuple[StoredCopy, ...]
    unread: str = ""


@dataclass(frozen=True)
class DupesImage:
    """An image as ``dupes`` reads it: its ID, its tags, its stored layers bottom to top, its digests."""

    id: str
    tags: tuple[str, ...]
    chain_ids: tuple[str, ...]
    digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class DupesInput:
    """What ``dupes`` read of one source: where (``source``), how (``read_from``: the layer store's
    folders, the engine's export, archives), the images and each stored layer's files."""

    source: str
    read_from: str
    images: tuple[DupesImage, ...]
    layers: dict[str, LayerFiles]
