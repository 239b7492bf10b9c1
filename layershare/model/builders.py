"""BuildKit's cache records (the engine's own BuildKit's, and builders' beside it), and the builders: what buildx's ``docker-container`` driver runs (a container
``buildx_buildkit_<builder>0`` whose whole cache is the volume ``buildx_buildkit_<builder>0_state``),
their cache records and the garbage-collection policy in force. Plain, frozen, typed data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class BuildRecord:
    """A BuildKit cache record as the engine lists it (``docker system df -v``), the units it keeps
    and the records it stands on. ``last_used`` and ``created`` are the engine's timestamps."""

    id: str
    type: str
    bytes: int
    shared: bool
    in_use: bool
    last_used: str = ""
    description: str = ""
    created: str = ""
    parents: tuple[str, ...] = ()
    holds: tuple[str, ...] = ()
    usage_count: int = 0


@dataclass(frozen=True)
class GCRule:
    """One rule of a BuildKit worker's GC policy (``buildctl debug workers``' ``gcPolicy``): with
    ``filters`` (BuildKit's syntax, any of them) and ``all`` (internal and frontend records too), records
    unused for ``keep_duration_ns`` go, then the rest down to what the space limits keep (bytes; 0: none)."""

    all: bool
    filters: tuple[str, ...]
    keep_duration_ns: int
    reserved_space: int
    max_used_space: int
    min_free_space: int


@dataclass(frozen=True)
class Builder:
    """A buildx builder running on (or left on) the engine.

    ``records`` are BuildKit's own cache records as ``buildctl du`` lists them
    (None: not read, ``unread_why`` says why); ``read_from`` says how they
    were read (``files``: the state volume's databases as root; ``buildctl``:
    one ``docker exec … buildctl du``). ``volume_bytes`` is the engine's size
    of the state volume (``UsageData.Size``). ``gc_policy`` is the worker's
    policy in force, ``gc_policy_from`` where it was read (``buildkitd``: the
    running worker; ``flags``/``config``/``defaults``: worked out from its
    command line, its ``buildkitd.toml`` and BuildKit's defaults).
    """

    name: str
    container: str
    container_id: str
    image: str
    state_volume: str
    running: bool
    driver: str = "docker-container"
    records: tuple[BuildRecord, ...] | None = None
    volume_bytes: int | None = None
    gc_enabled: bool = True
    gc_policy: tuple[GCRule, ...] = ()
    gc_policy_from: str = ""
    read_from: str = ""
    unread_why: str = ""
    # Free bytes and size of the file system under the builder's state (as BuildKit reads them for its
    # percentages and --min-free-space); None where unknown from here.
    free_bytes: int | None = None
    disk_size_bytes: int | None = None
    notes: tuple[str, ...] = ()
    # Records whose use BuildKit records at its next size reading (their count + 1, last used then):
    # :attr:`StateRecord.use_pending` of each, read as root (the group's reading did it already).
    use_pending: tuple[str, ...] = ()
    # As root: each record's folders and blob files in the state volume (what removing it takes away).
    record_paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @property
    def bytes(self) -> int | None:
        """What ``buildx du`` calls Total: every record's size (None: not read)."""
        if self.records is None:
            return None
        return sum(r.bytes for r in self.records if r.bytes > 0)

    @property
    def reclaimable_bytes(self) -> int | None:
        """What ``buildx du`` calls Reclaimable: the records no build is using."""
        if self.records is None:
            return None
        return sum(r.bytes for r in self.records if r.bytes > 0 and not r.in_use)

    @property
    def by_type(self) -> dict[str, tuple[int, int]]:
        """Per record type: how many records, how many bytes (largest first)."""
        found: dict[str, list[int]] = {}
        for r in self.records or ():
            entry = found.setdefault(r.type or "regular", [0, 0])
            entry[0] += 1
            entry[1] += max(r.bytes, 0)
        return {k: (v[0], v[1]) for k, v in sorted(found.items(), key=lambda kv: (-kv[1][1], kv[0]))}
