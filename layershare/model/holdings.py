"""What an engine holds: its images, containers, volumes and build cache, and the stored units each
keeps. Read once from the engine's answers (:mod:`layershare.sources.holdings`); ``layershare disk``
sizes these items on disk, ``layershare free`` plans a removal on them. No pandas, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from layershare.model.builders import Builder, BuildRecord
from layershare.model.images import EngineInfo


@dataclass(frozen=True)
class StoredUnit:
    """Something the engine frees whole once nothing holds it any more.

    A layer (graphdriver), a snapshot or a content blob (containerd store), a
    container's writable layer and logs, a volume, a build-cache record's own
    files, a buildx builder's record (its part of the state volume) or the rest of that volume (BuildKit's
    databases). ``bytes`` is what it adds to the engine's own totals (``LayersSize``,
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
    kind: Literal[
        "layer", "snapshot", "blob", "container", "volume", "build_cache", "builder_record", "builder_state"
    ]
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
class Usage:
    """Bytes found on disk: ``bytes`` the files' sizes (not folders'), ``disk_bytes`` allocated
    blocks as ``du`` counts them (folders included, each inode once)."""

    bytes: int = 0
    disk_bytes: int = 0


@dataclass(frozen=True)
class Container:
    """A container: its image, state, the volumes it mounts, its writable layer and logs.

    ``size_rw_bytes`` is its writable layer as the engine sizes it (``SizeRw``; 0 where the engine
    omits it); ``holds`` the stored units it keeps (its writable layer, on the containerd store its
    snapshots); ``disk`` its writable and init layers on disk and ``log`` its log files (None where
    the data root is not readable). ``labels`` match ``--filter label=`` and are never printed.
    """

    id: str
    name: str
    image: str
    image_id: str
    state: str
    created: float = 0.0
    size_rw_bytes: int = 0
    volumes: tuple[str, ...] = ()
    holds: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict, repr=False)
    disk: Usage | None = None
    log: Usage | None = None
    log_path: str | None = None

    @property
    def running(self) -> bool:
        """Running as the engine counts it (paused and restarting too): a prune keeps it and what it uses."""
        return self.state in ("running", "paused", "restarting")


@dataclass(frozen=True)
class Volume:
    """A volume: ``bytes`` is the engine's ``UsageData.Size`` (None when it does not say), with the
    containers that mount it and whether it is anonymous."""

    name: str
    driver: str
    bytes: int | None = None
    containers: tuple[str, ...] = ()
    anonymous: bool = False
    labels: Mapping[str, str] = field(default_factory=dict, repr=False)
    disk: Usage | None = None


# From this API version ``volume prune`` takes anonymous volumes only (``-a``: named ones too).
API_VOLUME_PRUNE_ANONYMOUS = (1, 42)

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
    containers: tuple[Container, ...]
    volumes: tuple[Volume, ...]
    build_cache: tuple[BuildRecord, ...]
    units: Mapping[str, StoredUnit]
    others: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    api_version: str = ""
    disk_readable: bool = False
    notes: tuple[str, ...] = ()
    collected_at: str = ""
    # Free bytes of the file system under BuildKit's folder (statfs: f_bsize x f_bfree, as BuildKit
    # reads it for --min-free-space); None where it cannot be read from here.
    build_cache_free_bytes: int | None = None
    # What the engine's answers leave open (the docker group on the containerd store), keyed by holder or
    # unit: (what removing it may free less than the figure by, more by). ``free`` gives the range.
    uncertain: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # buildx builders, read where a plan asks about them (``buildx prune --builder``, ``buildx rm``): each
    # record is the unit ``builder:<name>/<id>`` its holder of that key holds, and the state volume's
    # unit holds the rest of the volume (BuildKit's databases).
    builders: tuple[Builder, ...] = ()

    @property
    def shared_build_bytes(self) -> int:
        """The size of the build-cache records the engine calls shared: removals may turn each unshared
        (counted) once, at most."""
        return sum(r.bytes for r in self.build_cache if r.shared)
