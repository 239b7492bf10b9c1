"""containerd's own records, read from its bbolt files: snapshots, leases, and the content labels its
garbage collector follows. Read-only; a file that cannot be read gives nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layershare.sources.stores.boltdb import BoltError, Tree, read_tree, uvarint, varint
from layershare.sources.stores.usage import DiskUsage

NAMESPACE = "moby"  # Docker's own namespace; the kubelet's is "k8s.io"
META_DB = Path("io.containerd.metadata.v1.bolt", "meta.db")
_VIEW, _COMMITTED = 1, 3


def read_meta(root: Path) -> Tree:
    """containerd's metadata (``io.containerd.metadata.v1.bolt/meta.db``), read from a copy taken in one
    read and taken again if it was caught mid-write. Raises ``OSError`` or :class:`BoltError`."""
    return read_tree(root / META_DB)


def namespaces(meta: Tree) -> list[str]:
    """The namespaces containerd's metadata holds, sorted."""
    top = meta.get(b"v1")
    return sorted(
        k.decode(errors="replace")
        for k, v in (top.items() if isinstance(top, dict) else ())
        if isinstance(v, dict)
    )


@dataclass(frozen=True)
class ImageRecord:
    """One image name of a namespace and the digest it points at (a manifest or an index), with that
    target's media type and size and the record's labels."""

    name: str
    target: str
    media_type: str = ""
    size: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)


def image_records(meta: Tree, namespace: str) -> list[ImageRecord]:
    """Every image name of a namespace, as ``ctr -n NAMESPACE images ls`` lists them (in key order)."""
    found = []
    for name, record in bucket(meta, namespace, b"images").items():
        target = record.get(b"target") if isinstance(record, dict) else None
        digest = target.get(b"digest") if isinstance(target, dict) else None
        if not isinstance(record, dict) or not isinstance(target, dict) or not isinstance(digest, bytes):
            continue
        size, labels = target.get(b"size"), record.get(b"labels")
        try:
            found.append(
                ImageRecord(
                    name=name.decode(errors="replace"),
                    target=digest.decode(errors="replace"),
                    media_type=text(target.get(b"mediatype")),
                    size=varint(size) if isinstance(size, bytes) else 0,
                    labels={k.decode(errors="replace"): text(v) for k, v in (labels or {}).items()}
                    if isinstance(labels, dict)
                    else {},
                )
            )
        except BoltError:
            continue
    return found


@dataclass(frozen=True)
class ContainerRecord:
    """One container of a namespace: the image name it was made from and its writable snapshot's key."""

    id: str
    image: str
    snapshot_key: str


def container_records(meta: Tree, namespace: str) -> list[ContainerRecord]:
    """Every container containerd's metadata holds in a namespace (running or not)."""
    found = []
    for cid, record in bucket(meta, namespace, b"containers").items():
        if not isinstance(record, dict):
            continue
        image, key = record.get(b"image"), record.get(b"snapshotKey")
        found.append(
            ContainerRecord(
                id=cid.decode(errors="replace"),
                image=image.decode(errors="replace") if isinstance(image, bytes) else "",
                snapshot_key=key.decode(errors="replace") if isinstance(key, bytes) else "",
            )
        )
    return found


def bucket(meta: Tree, namespace: str, *path: bytes) -> Tree:
    """A bucket of a namespace in containerd's metadata (``v1/<namespace>/<path...>``); {} if none."""
    found: Tree | bytes = meta
    for key in (b"v1", namespace.encode(), *path):
        found = found.get(key, b"") if isinstance(found, dict) else b""
    return found if isinstance(found, dict) else {}


def text(value: Tree | bytes | None) -> str:
    """A value of containerd's metadata as text ("" for a bucket or none)."""
    return value.decode(errors="replace") if isinstance(value, bytes) else ""


@dataclass(frozen=True)
class SnapshotRecord:
    """One snapshot as the snapshotter's metadata records it.

    ``key`` is the snapshotter's own (``moby/17/sha256:...``): the namespace, a
    sequence number and the ``name`` containerd clients use; ``number`` names its
    folder under ``snapshots/``; ``recorded_size`` is what containerd recorded at
    commit (None for an active snapshot, whose usage is measured on disk).
    """

    key: str
    number: int
    committed: bool
    parent: str | None
    recorded_size: int | None
    view: bool = False

    @property
    def namespace(self) -> str:
        return self.key.partition("/")[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 2)[2] if self.key.count("/") >= 2 else self.key


def read_snapshot_records(snapshotter: Path) -> dict[str, SnapshotRecord]:
    """Every snapshot of a snapshotter (``io.containerd.snapshotter.v1.<name>``) by key; {} if unreadable."""
    try:
        tree = read_tree(snapshotter / "metadata.db")
    except (OSError, BoltError):
        return {}
    return snapshot_records(tree)


def snapshot_records(tree: Tree) -> dict[str, SnapshotRecord]:
    """Every snapshot of a snapshotter's metadata (``metadata.db``, read) by key."""
    top = tree.get(b"v1")
    records = top.get(b"snapshots") if isinstance(top, dict) else None
    found: dict[str, SnapshotRecord] = {}
    for key, record in records.items() if isinstance(records, dict) else ():
        number = record.get(b"id") if isinstance(record, dict) else None
        if not isinstance(record, dict) or not isinstance(number, bytes):
            continue
        kind, recorded, parent = (record.get(k) for k in (b"kind", b"size", b"parent"))
        committed = kind == bytes([_COMMITTED]) and isinstance(recorded, bytes)
        try:
            found[key.decode(errors="replace")] = SnapshotRecord(
                key=key.decode(errors="replace"),
                number=uvarint(number),
                committed=committed,
                parent=parent.decode(errors="replace") if isinstance(parent, bytes) and parent else None,
                recorded_size=varint(recorded) if committed and isinstance(recorded, bytes) else None,
                view=kind == bytes([_VIEW]),
            )
        except BoltError:
            continue
    return found


def snapshot_usage(snapshotter: Path, record: SnapshotRecord, usage: DiskUsage) -> int:
    """What ``du`` counts for one snapshot's folder (the recorded size spares walking a committed one)."""
    folder = snapshotter / "snapshots" / str(record.number)
    if record.recorded_size is None:
        return usage.tree(folder)
    # The recorded size is the usage of the snapshot's fs folder; add the folder's own entry and
    # its work folder (overlayfs leaves work/work behind once it mounted it).
    return record.recorded_size + usage.entry(folder) + usage.tree(folder / "work")


@dataclass(frozen=True)
class Lease:
    """A containerd lease: what it keeps from garbage collection (snapshot keys by snapshotter, blobs)."""

    namespace: str
    id: str
    snapshots: tuple[str, ...]
    content: tuple[str, ...]


GC_CONTENT_REF = "containerd.io/gc.ref.content."


def _namespace_buckets(root: Path, meta: Tree | None) -> Tree:
    """Every namespace's bucket of containerd's metadata: ``meta`` where the caller has read it
    already, else read from ``root``; {} where it cannot be read."""
    if meta is None:
        try:
            meta = read_meta(root)
        except (OSError, BoltError):
            return {}
    top = meta.get(b"v1")
    return top if isinstance(top, dict) else {}


def read_content_refs(
    root: Path, namespace: str = NAMESPACE, *, meta: Tree | None = None
) -> dict[str, list[str]]:
    """For each content blob of a namespace, the blobs its garbage-collection labels keep
    (``containerd.io/gc.ref.content.*``): what containerd's collector follows from an image.
    ``meta``: containerd's metadata where already read (else it is read from ``root``)."""
    try:
        tree: Any = _namespace_buckets(root, meta)
        blobs = tree[namespace.encode()][b"content"][b"blob"]
    except (KeyError, TypeError):
        return {}
    refs: dict[str, list[str]] = {}
    for digest, record in blobs.items() if isinstance(blobs, dict) else ():
        labels = record.get(b"labels") if isinstance(record, dict) else None
        kept = [
            value.decode(errors="replace")
            for name, value in (labels.items() if isinstance(labels, dict) else ())
            if name.decode(errors="replace").startswith(GC_CONTENT_REF) and isinstance(value, bytes)
        ]
        if kept:
            refs[digest.decode(errors="replace")] = kept
    return refs


def recorded_blobs(root: Path, namespace: str | None = None, *, meta: Tree | None = None) -> set[str]:
    """Every blob digest a namespace (default: any) of containerd's metadata has a record of."""
    found: set[str] = set()
    for name, bucket in _namespace_buckets(root, meta).items():
        if namespace is not None and name != namespace.encode():
            continue
        content = bucket.get(b"content") if isinstance(bucket, dict) else None
        blobs = content.get(b"blob") if isinstance(content, dict) else None
        found.update(d.decode(errors="replace") for d in (blobs if isinstance(blobs, dict) else ()))
    return found


def reachable(start: Iterable[str], refs: Mapping[str, list[str]]) -> set[str]:
    """``start`` and every blob their labels keep, transitively (as containerd's collector walks them)."""
    found: set[str] = set()
    stack = list(start)
    while stack:
        digest = stack.pop()
        if digest not in found:
            found.add(digest)
            stack.extend(refs.get(digest, ()))
    return found


def read_leases(root: Path, *, meta: Tree | None = None) -> list[Lease]:
    """Every lease of every namespace in containerd's metadata (``io.containerd.metadata.v1.bolt``)."""
    leases = []
    for namespace, bucket in _namespace_buckets(root, meta).items():
        held = bucket.get(b"leases") if isinstance(bucket, dict) else None
        for lease_id, lease in held.items() if isinstance(held, dict) else ():
            if not isinstance(lease, dict):
                continue
            snapshots = lease.get(b"snapshots")
            keys = [
                key.decode(errors="replace")
                for by_snapshotter in (snapshots.values() if isinstance(snapshots, dict) else ())
                if isinstance(by_snapshotter, dict)
                for key in by_snapshotter
            ]
            content = lease.get(b"content")
            leases.append(
                Lease(
                    namespace=namespace.decode(errors="replace"),
                    id=lease_id.decode(errors="replace"),
                    snapshots=tuple(keys),
                    content=tuple(d.decode(errors="replace") for d in content)
                    if isinstance(content, dict)
                    else (),
                )
            )
    return leases


def reported_usage(folder: Path, record: SnapshotRecord, usage: DiskUsage) -> int:
    """A snapshot's usage as containerd reports it: recorded at commit, measured when active, 0 for a view."""
    if record.recorded_size is not None:
        return record.recorded_size
    return 0 if record.view else usage.tree(folder / "snapshots" / str(record.number) / "fs")


def chain_usage(records: Tree, backend: Mapping[str, SnapshotRecord]) -> Callable[[str], int]:
    """A chain ID's snapshot and every parent, at the usage containerd recorded at commit: the
    namespace's records name each snapshot's key in the snapshotter and its parent. 0 where the chain
    or one of its parents is not there (the engine's ``NotFound``); ``ValueError`` where the snapshotter
    has no recorded usage for one (its records read at another moment than the namespace's)."""
    memo: dict[str, int] = {}

    def usage(name: str) -> int:
        path: list[tuple[str, int]] = []  # each snapshot walked and its own usage
        below = 0
        key = name
        while key:
            if key in memo:
                below = memo[key]
                break
            record = records.get(key.encode())
            if not isinstance(record, dict) or len(path) > 4096:
                return 0
            own = backend.get(text(record.get(b"name")))
            if own is None or own.recorded_size is None:
                raise ValueError(f"snapshot {key} has no recorded usage")
            path.append((key, own.recorded_size))
            key = text(record.get(b"parent"))
        for step, size in reversed(path):  # each snapshot's usage with its parents', for chains sharing it
            below += size
            memo[step] = below
        return below

    return usage
