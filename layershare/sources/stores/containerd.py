"""The containerd image store on disk: content blobs and unpacked snapshots, each weighed as ``du`` does.

With the containerd image store (Docker 29's default, Docker Desktop) every
layer is kept twice: as the content blob that was pulled or loaded, and
unpacked as a snapshot. The engine's own figures mislead there (moby issues
52476, 53398). Where this process can read the store (root on the engine's
host), this module weighs both:

- content blobs (``io.containerd.content.v1.content/blobs/sha256/<hex>``):
  each image's index (if any), the manifests of the platforms present, their
  configs and layer blobs, found by reading the image's own manifest from the
  store (an image ID is the digest of its manifest or index);
- snapshots (``io.containerd.snapshotter.v1.<driver>/snapshots/<n>``): the
  snapshotter's bbolt metadata names each committed snapshot after its chain
  ID and records its size; the snapshot's own folders are added, so each
  snapshot weighs what ``du`` counts for its folder.

What no image uses (containers' writable layers, leftovers) is reported apart.
Everything here is JSON-ready: it goes into a recording as ``content_store``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layershare.ids import chain_ids
from layershare.sources.stores.boltdb import BoltError, BoltFile, uvarint, varint

NAMESPACE = "moby"
_VIEW, _COMMITTED = 1, 3
_BLOCK = 512


def _roots(info: Mapping[str, Any]) -> list[Path]:
    """Where containerd keeps its state: dockerd's own containerd, else the system's."""
    roots = []
    if info.get("DockerRootDir"):
        roots.append(Path(str(info["DockerRootDir"]), "containerd", "daemon"))
    roots.append(Path("/var/lib/containerd"))
    return roots


CONTENT_BLOBS = Path("io.containerd.content.v1.content", "blobs", "sha256")


def _blobs(root: Path) -> Path:
    return root / CONTENT_BLOBS


def find_store_near(data_root: str) -> Path | None:
    """The containerd root a data root's engine uses: its own (``containerd/daemon``), else the system's."""
    return find_store({"DockerRootDir": data_root})


def find_store(info: Mapping[str, Any]) -> Path | None:
    """The containerd root holding a readable content store, if any."""
    for root in _roots(info):
        blobs = _blobs(root)
        if os.access(blobs, os.R_OK | os.X_OK):
            return root
    return None


class DiskUsage:
    """Weighs files and folders as ``du`` counts them: allocated blocks, hard links once."""

    def entry(self, path: Path) -> int:
        """Bytes ``du`` counts for one file or one folder's own entry (not what it holds)."""
        return os.lstat(path).st_blocks * _BLOCK

    def tree(self, folder: Path) -> int:
        """``du -s``: blocks of a folder and everything in it, hard links once."""
        seen: set[tuple[int, int]] = set()
        total = 0
        stack = [folder]
        while stack:
            current = stack.pop()
            try:
                info = os.lstat(current)
            except OSError:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * _BLOCK
            if os.path.isdir(current) and not os.path.islink(current):
                try:
                    stack.extend(Path(current, name) for name in os.listdir(current))
                except OSError:
                    continue
        return total


def read_store(info: Mapping[str, Any], image_ids: Iterable[str]) -> dict[str, Any] | None:
    """Blobs and snapshots of the engine's containerd store and which images use them; None if unreadable."""
    root = find_store(info)
    if root is None:
        return None
    return read_store_at(root, str(info.get("Driver") or "overlayfs"), image_ids)


def read_store_at(
    root: Path, snapshotter_name: str, image_ids: Iterable[str], usage: DiskUsage | None = None
) -> dict[str, Any]:
    """Blobs and snapshots of the containerd store at ``root`` and which images use them.

    ``usage`` weighs files and folders (default: as ``du`` does on this disk).
    """
    usage = usage or DiskUsage()
    blob_dir = _blobs(root)
    snapshotter = root / f"io.containerd.snapshotter.v1.{snapshotter_name}"
    blobs: dict[str, dict[str, Any]] = {}
    images: dict[str, dict[str, Any]] = {}

    def blob(digest: str, kind: str) -> Any:
        path = blob_dir / digest.removeprefix("sha256:")
        try:
            size = usage.entry(path)
            document = json.loads(path.read_bytes()) if kind in ("index", "manifest") else None
        except (OSError, ValueError):
            return None
        blobs.setdefault(digest, {"size": size, "kind": kind})
        return document if kind in ("index", "manifest") else True

    for image_id in image_ids:
        used: list[str] = []
        platforms: list[str] = []
        layer_blobs: list[str] = []
        top = blob(image_id, "manifest")
        manifests: list[tuple[str, Any]] = []
        if isinstance(top, dict) and isinstance(top.get("manifests"), list):
            blobs[image_id]["kind"] = "index"
            used.append(image_id)
            for descriptor in top["manifests"]:
                digest = str(descriptor.get("digest", ""))
                manifest = blob(digest, "manifest")
                if isinstance(manifest, dict):  # a platform not pulled has no manifest here
                    platform = descriptor.get("platform") or {}
                    platforms.append(
                        "/".join(str(platform[k]) for k in ("os", "architecture") if k in platform)
                    )
                    manifests.append((digest, manifest))
        elif isinstance(top, dict):
            manifests.append((image_id, top))
        for digest, manifest in manifests:
            if manifest.get("layers") is None:
                continue  # an attestation or another artifact, not an image
            used.append(digest)
            config = str((manifest.get("config") or {}).get("digest", ""))
            if blob(config, "config"):
                used.append(config)
            for layer in manifest.get("layers") or []:
                layer_digest = str(layer.get("digest", ""))
                if blob(layer_digest, "layer"):
                    used.append(layer_digest)
                    layer_blobs.append(layer_digest)
        if manifests:
            images[image_id] = {
                "blobs": list(dict.fromkeys(used)),
                "platforms": [p for p in platforms if p],
                "layer_blobs": layer_blobs,
            }
    snapshots, other_snapshot_bytes = _snapshots(snapshotter, usage)
    other_blob_bytes = sum(usage.entry(p) for p in _files(blob_dir) if f"sha256:{p.name}" not in blobs)
    return {
        "blobs": blobs,
        "images": images,
        "snapshots": snapshots,
        "other_snapshot_bytes": other_snapshot_bytes,
        "other_blob_bytes": other_blob_bytes,
    }


_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def read_config(root: Path, image_id: str, architecture: str) -> dict[str, Any] | None:
    """The image configuration of an image ID (a manifest's, or an index's platform that is present,
    this engine's own architecture first); None where the store does not hold it."""
    blob_dir = _blobs(root)

    def document(digest: str) -> Any:
        try:
            return json.loads((blob_dir / str(digest).removeprefix("sha256:")).read_bytes())
        except (OSError, ValueError):
            return None

    top = document(image_id)
    manifest = top
    if isinstance(top, dict) and isinstance(top.get("manifests"), list):
        arch = _ARCH.get(architecture, architecture)
        ordered = sorted(
            top["manifests"], key=lambda d: (d.get("platform") or {}).get("architecture") != arch
        )
        manifest = next((m for d in ordered if isinstance(m := document(d.get("digest", "")), dict)), None)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        return None
    config = document(manifest["config"].get("digest", ""))
    return config if isinstance(config, dict) else None


def _files(folder: Path) -> list[Path]:
    try:
        return [folder / name for name in os.listdir(folder)]
    except OSError:
        return []


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
        tree: Any = BoltFile.open(snapshotter / "metadata.db").tree()
        records = tree[b"v1"][b"snapshots"]
    except (OSError, BoltError, KeyError, TypeError):
        return {}
    found: dict[str, SnapshotRecord] = {}
    for key, record in records.items() if isinstance(records, dict) else ():
        if not isinstance(record, dict) or not isinstance(record.get(b"id"), bytes):
            continue
        kind, recorded, parent = (record.get(k) for k in (b"kind", b"size", b"parent"))
        committed = kind == bytes([_COMMITTED]) and isinstance(recorded, bytes)
        try:
            found[key.decode(errors="replace")] = SnapshotRecord(
                key=key.decode(errors="replace"),
                number=uvarint(record[b"id"]),
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


def read_content_refs(root: Path, namespace: str = NAMESPACE) -> dict[str, list[str]]:
    """For each content blob of a namespace, the blobs its garbage-collection labels keep
    (``containerd.io/gc.ref.content.*``): what containerd's collector follows from an image."""
    try:
        tree: Any = BoltFile.open(root / "io.containerd.metadata.v1.bolt" / "meta.db").tree()
        blobs = tree[b"v1"][namespace.encode()][b"content"][b"blob"]
    except (OSError, BoltError, KeyError, TypeError):
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


def read_leases(root: Path) -> list[Lease]:
    """Every lease of every namespace in containerd's metadata (``io.containerd.metadata.v1.bolt``)."""
    try:
        tree: Any = BoltFile.open(root / "io.containerd.metadata.v1.bolt" / "meta.db").tree()
        namespaces = tree[b"v1"]
    except (OSError, BoltError, KeyError, TypeError):
        return []
    leases = []
    for namespace, bucket in namespaces.items() if isinstance(namespaces, dict) else ():
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


def _snapshots(snapshotter: Path, usage: DiskUsage) -> tuple[dict[str, int], int]:
    """Disk bytes of each committed snapshot of the moby namespace by chain ID, and of every other together."""
    by_chain: dict[str, int] = {}
    other = 0
    for record in read_snapshot_records(snapshotter).values():
        try:
            size = snapshot_usage(snapshotter, record, usage)
        except OSError:
            continue
        if record.committed and record.namespace == NAMESPACE and record.name.startswith("sha256:"):
            by_chain[record.name] = by_chain.get(record.name, 0) + size
        else:
            other += size
    return by_chain, other


def kept_snapshot_bytes(
    root: Path, snapshotter: str, image_ids: Iterable[str], container_ids: Iterable[str], architecture: str
) -> int | None:
    """What the snapshots of these images and containers weigh as the engine's ``LayersSize`` counts them.

    On the containerd store the engine's ``LayersSize`` is every snapshot's usage, containers' own
    included; this is the part those images (their layers and what they stand on) and containers
    (their writable and init snapshots) keep. Active snapshots are measured as containerd measures
    them (allocated blocks of their ``fs`` folder). None where the store is not readable.
    """
    folder = root / f"io.containerd.snapshotter.v1.{snapshotter}"
    records = {k: r for k, r in read_snapshot_records(folder).items() if r.namespace == NAMESPACE}
    if not records:
        return None
    by_name = {r.name: k for k, r in records.items()}
    kept: set[str] = set()

    def keep(key: str | None) -> None:
        while key is not None and key in records and key not in kept:
            kept.add(key)
            key = records[key].parent

    for image_id in image_ids:
        config = read_config(root, image_id, architecture)
        if config is None:
            return None
        chain = chain_ids(list((config.get("rootfs") or {}).get("diff_ids") or []))
        if chain:
            keep(by_name.get(chain[-1]))
    for cid in container_ids:
        keep(by_name.get(cid))
        keep(by_name.get(f"{cid}-init"))
    usage = DiskUsage()
    return sum(_usage_of(folder, records[key], usage) for key in kept)


def snapshots_usage(root: Path, snapshotter: str) -> int | None:
    """Every snapshot of this engine's namespace as containerd measures its usage (``LayersSize`` on the
    containerd store): the recorded size of a committed one, the blocks of an active one's ``fs``."""
    folder = root / f"io.containerd.snapshotter.v1.{snapshotter}"
    records = [r for r in read_snapshot_records(folder).values() if r.namespace == NAMESPACE]
    if not records:
        return None
    usage = DiskUsage()
    return sum(_usage_of(folder, r, usage) for r in records)


def _usage_of(folder: Path, record: SnapshotRecord, usage: DiskUsage) -> int:
    """A snapshot's usage as containerd reports it: recorded at commit, measured when active, 0 for a view."""
    if record.recorded_size is not None:
        return record.recorded_size
    return 0 if record.view else usage.tree(folder / "snapshots" / str(record.number) / "fs")
