"""The model a removal is planned on (``layershare free``): an engine's images, containers, volumes
and build cache, and the stored units each holds. Plain, frozen, typed data like :mod:`layershare.model`;
no pandas, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from layershare.model import EngineInfo


@dataclass(frozen=True)
class StoredUnit:
    """Something the engine frees whole once nothing holds it any more.

    A layer (graphdriver), a snapshot or a content blob (containerd store), a
    container's writable layer and logs, a volume, a build-cache record's own
    files. ``bytes`` is what it adds to the engine's own totals (``LayersSize``,
    ``SizeRw``, a volume's size, an unshared build-cache record's size: what
    ``docker system df`` sums); ``disk_bytes`` its allocated bytes on disk,
    metadata left out (None where the files are not readable).

    How the engine counts it: a graphdriver layer only while an image holds it
    (``counted_with_images``: moby's ``LayersSize`` walks images); a build-cache
    record backed by a layer only while no image holds that layer
    (``uncounted_under``: any of these held by an image; the engine calls it
    shared then). Disk bytes go when
    nothing at all holds the unit.
    """

    key: str
    kind: Literal["layer", "snapshot", "blob", "container", "volume", "build_cache"]
    bytes: int
    disk_bytes: int | None
    counted_with_images: bool = False
    uncounted_under: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineImage:
    """An image as a removal sees it: its names, what it stands on, and every unit it keeps.

    ``labels`` are held in memory to match ``--label`` and never stored or printed.
    """

    id: str
    tags: tuple[str, ...]
    created: float
    parent_id: str = ""
    holds: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict, repr=False)
    digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineContainer:
    """A container: its image, state, the volumes it mounts, and the units it keeps (its writable layer)."""

    id: str
    name: str
    image_id: str
    image: str
    state: str
    created: float
    volumes: tuple[str, ...] = ()
    holds: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def running(self) -> bool:
        """Running as a prune counts it (paused and restarting too)."""
        return self.state in ("running", "paused", "restarting")


@dataclass(frozen=True)
class EngineVolume:
    """A volume: its unit, whether it is anonymous, who mounts it."""

    name: str
    driver: str
    anonymous: bool
    containers: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class BuildRecord:
    """A build-cache record as a prune sees it: the units it keeps and the records it stands on."""

    id: str
    type: str
    bytes: int
    shared: bool
    in_use: bool
    last_used: float
    parents: tuple[str, ...] = ()
    holds: tuple[str, ...] = ()


SOFT = "may keep: "  # names an ``EngineState.others`` holder that may or may not keep its units


@dataclass(frozen=True)
class EngineState:
    """One engine's images, containers, volumes and build cache, and the units each holds.

    ``units`` are keyed by :attr:`StoredUnit.key`; every ``holds`` names units
    (transitively: an image holds each layer it stands on). ``others`` are
    holders nothing here removes (a lease, a layer kept by something unknown);
    one named with the :data:`SOFT` prefix may or may not keep its units once
    everything else lets them go (the engine's behaviour is not known for it).
    ``api_version`` is the one the user's docker CLI would speak to this engine,
    which decides what ``volume prune`` takes.
    """

    engine: EngineInfo
    images: tuple[EngineImage, ...]
    containers: tuple[EngineContainer, ...]
    volumes: tuple[EngineVolume, ...]
    build_cache: tuple[BuildRecord, ...]
    units: Mapping[str, StoredUnit]
    others: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    api_version: str = ""
    disk_readable: bool = False
    notes: tuple[str, ...] = ()
    collected_at: str = ""
