"""The disk model: where the bytes under an engine's data root went (``layershare disk``), and a saved
disk read back. Plain, frozen, typed data; no pandas, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from layershare.model.builders import Builder, BuildRecord
from layershare.model.holdings import Container, EngineState, Usage, Volume
from layershare.model.images import EngineInfo

# --- Where the disk went (``layershare disk``) ---

Category = Literal[
    "images",
    "containers",
    "logs",
    "volumes",
    "build_cache",
    "builders",
    "inactive_store",
    "other_namespaces",
    "metadata",
    "orphans",
    "unaccounted",
]
CATEGORIES: tuple[Category, ...] = (
    "images",
    "containers",
    "logs",
    "volumes",
    "build_cache",
    "builders",
    "inactive_store",
    "other_namespaces",
    "metadata",
    "orphans",
    "unaccounted",
)


@dataclass(frozen=True)
class Orphan:
    """Something under a data root that nothing the engine knows references (reported, never touched)."""

    root: str
    path: str
    kind: str
    why: str
    usage: Usage


@dataclass(frozen=True)
class InactiveImage:
    """An image of a store the engine no longer uses: its ID, its tags as ``docker image ls`` wrote them
    and its layers' recorded sizes added up."""

    id: str
    tags: tuple[str, ...]
    bytes: int


@dataclass(frozen=True)
class InactiveStore:
    """An image store beside the engine that it no longer uses (it switched stores): ``store`` is its kind
    (``overlay2``), ``path`` its folder under the data root, ``bytes`` its layers' recorded sizes (each
    once), ``disk_bytes`` what it holds on disk (its layer folders and its metadata; None unwalked)."""

    store: str
    path: str
    bytes: int
    disk_bytes: int | None
    images: tuple[InactiveImage, ...]


@dataclass(frozen=True)
class DiskRoot:
    """A folder walked: the data root, or an image store kept outside it; ``disk_bytes`` as ``du -sx``."""

    path: str
    disk_bytes: int | None


@dataclass(frozen=True)
class DiskSnapshot:
    """What one engine's disk holds, from its API and (where readable) one walk of its roots.

    ``layers_bytes`` is the engine's ``LayersSize``. ``volumes`` are the
    engine's volumes but the buildx builders' state volumes, which are
    ``builders``. ``walked`` holds each category's bytes as found on disk, None when the
    roots were not readable. ``holdings`` is the engine's state a prune is planned on.
    """

    engine: EngineInfo
    data_root: str
    data_root_readable: bool
    roots: tuple[DiskRoot, ...]
    layers_bytes: int
    containers: tuple[Container, ...]
    volumes: tuple[Volume, ...]
    build_cache: tuple[BuildRecord, ...]
    orphans: tuple[Orphan, ...] = ()
    inactive_stores: tuple[InactiveStore, ...] = ()
    builders: tuple[Builder, ...] = ()
    # The engine's own BuildKit (its build cache) as a builder, with the GC policy dockerd runs it with
    # (None: not read, as the docker group).
    build_cache_gc: Builder | None = None
    walked: Mapping[Category, Usage] | None = None
    volume_prune_all: bool = True
    # False where docker's prune rules do not apply (containerd on a node): nothing is said reclaimable.
    prune_rules: bool = True
    notes: tuple[str, ...] = ()
    collected_at: str = ""
    # What the engine holds, as ``layershare free`` plans on it (None where no engine was asked).
    holdings: EngineState | None = field(default=None, repr=False)


# --- A saved disk (``layershare disk --format json``) read back, for comparisons over time ---


@dataclass(frozen=True)
class SavedCategory:
    """One category of a saved disk: ``bytes`` and ``disk_bytes`` (None where unknown)."""

    category: str
    bytes: int | None
    disk_bytes: int | None


@dataclass(frozen=True)
class SavedItem:
    """An item of a saved disk: ``kind`` (container, volume, build cache, orphan), its key and bytes.

    A container's bytes are its writable layer and its logs together.
    """

    kind: str
    key: str
    name: str
    bytes: int | None


@dataclass(frozen=True)
class SavedDisk:
    """One engine's disk at one time, as a saved ``layershare.disk/v1`` says it."""

    label: str
    engine: EngineInfo
    collected_at: str
    on_disk_bytes: int | None
    categories: tuple[SavedCategory, ...]
    items: tuple[SavedItem, ...]
