"""A BuildKit daemon's own state folder (a buildx builder's ``/var/lib/buildkit``), read-only, as root:
its cache records as ``buildctl du`` lists them, from the worker's ``metadata_v2.db``, its snapshotter's
``snapshots/metadata.db`` and content store. Read from BuildKit v0.32's ``cache/manager.go``
(``DiskUsage``) and ``cache/metadata.go``, and checked against ``buildctl du --format json``.

- a record whose immutable twin is only its mutable one (``cache.equalMutable``) is listed once, as the
  mutable record, at the immutable record's size;
- a size is BuildKit's ``snapshot.size`` where it recorded one, else what it would compute: the usage of
  the record's snapshot (recorded at commit, or the upper folder's blocks, hard links once) plus its
  layer blob;
- whether a build holds a record right now lives only in buildkitd's memory: read from the files, no
  record is in use;
- a mutable record with no immutable twin (a cache mount or local source the last build used) gets one
  when BuildKit next reads sizes (``DiskUsage``: ``buildctl du``, or its GC before it sorts), and that
  counts as one more use, now (``cache/refs.go`` ``commit``, then ``mutableRef.release``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layershare.model import BuildRecord
from layershare.sources.stores.boltdb import BoltError, read_tree
from layershare.sources.stores.containerd_meta import SnapshotRecord, snapshot_records
from layershare.sources.stores.usage import DiskUsage
from layershare.times import rfc3339_nano

METADATA = "metadata_v2.db"


@dataclass(frozen=True)
class StateRecord:
    """A listed record with where its bytes are: its snapshot folders (the mutable twin's and its own)
    and its blob files, as ``free`` weighs what removing it takes from the volume."""

    record: BuildRecord
    folders: tuple[str, ...]
    blobs: tuple[str, ...]
    # A mutable record with no immutable twin yet (a cache mount or local source a build just used):
    # BuildKit's next size reading (``buildctl du``, or its GC's) commits it and counts one more use now.
    use_pending: bool = False


def worker_folder(state: Path) -> Path | None:
    """The worker's folder under a BuildKit state folder (``runc-overlayfs``, ``runc-native``…): the
    one holding ``metadata_v2.db``; None where there is none."""
    try:
        found = sorted(p.parent for p in state.glob(f"*/{METADATA}"))
    except OSError:
        return None
    return found[0] if found else None


def read_state(state: Path) -> tuple[StateRecord, ...] | None:
    """Every record ``buildctl du`` would list for the BuildKit state folder ``state``; None where its
    worker's metadata cannot be read (``OSError`` for no permission is the caller's to say)."""
    worker = worker_folder(state)
    if worker is None:
        return None
    try:
        main = read_tree(worker / METADATA).get(b"_main")
    except BoltError:
        return None
    if not isinstance(main, dict):
        return ()
    try:
        snapshots = snapshot_records(read_tree(worker / "snapshots" / "metadata.db"))
    except (OSError, BoltError):
        snapshots = {}
    fields = {k: f for k, f in _all_values(main).items() if not f.get("cache.deleted")}
    return _listed(fields, _by_name(snapshots), str(worker))


WANTED = {
    b"snapshot.size", b"snapshot.committed", b"cache.recordType", b"cache.description", b"cache.createdAt",
    b"cache.lastUsedAt", b"cache.usageCount", b"cache.parent", b"cache.mergeParents", b"cache.lowerDiffParent",
    b"cache.upperDiffParent", b"cache.equalMutable", b"cache.snapshot", b"cache.blob", b"cache.deleted",
}  # fmt: skip


def _all_values(main: Mapping[bytes, Any]) -> dict[str, dict[str, Any]]:
    """Each record's fields that the listing needs, their JSON values (``{"value": …}``) read in one go."""
    where: list[tuple[str, str]] = []
    raws: list[bytes] = []
    found: dict[str, dict[str, Any]] = {}
    for key, record in main.items():
        if not isinstance(record, dict):
            continue
        rid = key.decode(errors="replace")
        found[rid] = {}
        for name, raw in record.items():
            if name in WANTED and isinstance(raw, bytes) and raw:
                where.append((rid, name.decode()))
                raws.append(raw)
    try:
        values = json.loads(b"[" + b",".join(raws) + b"]")
    except ValueError:  # one malformed value: each on its own, the malformed left out
        values = [_one(raw) for raw in raws]
    for (rid, name), value in zip(where, values, strict=True):
        if isinstance(value, dict):
            found[rid][name] = value.get("value")
    return found


def _one(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _by_name(snapshots: Mapping[str, SnapshotRecord]) -> dict[str, SnapshotRecord]:
    """BuildKit's snapshots by the name it gives them (the backend's key is ``buildkit/<n>/<name>``)."""
    return {r.name: r for r in snapshots.values() if r.namespace == "buildkit"}


def _listed(
    fields: dict[str, dict[str, Any]], snapshots: Mapping[str, SnapshotRecord], worker: str
) -> tuple[StateRecord, ...]:
    twin_of: dict[str, str] = {}  # mutable record -> the immutable record that is only it
    for rid, f in fields.items():
        mutable = f.get("cache.equalMutable")
        if isinstance(mutable, str) and mutable in fields:
            twin_of[mutable] = rid
    usage = DiskUsage()
    listed = []
    for rid, f in sorted(fields.items()):
        if f.get("cache.equalMutable") in twin_of:
            continue  # listed as its mutable twin
        sized = fields[twin_of[rid]] if rid in twin_of else f
        folders = [p for p in (_folder(worker, snapshots, f), _folder(worker, snapshots, sized)) if p]
        blob = _blob(worker, sized)
        size = sized.get("snapshot.size")
        if not isinstance(size, int) or size < 0:
            size = _usage(snapshots, f if rid in twin_of else sized, usage, worker) + (
                _file_size(blob) if blob else 0
            )
        listed.append(
            StateRecord(
                record=BuildRecord(
                    id=rid,
                    type=str(f.get("cache.recordType") or "regular"),
                    bytes=size,
                    shared=False,  # BuildKit's OCI worker has no image store to share records with
                    in_use=False,
                    last_used=_time(f.get("cache.lastUsedAt")),
                    description=str(f.get("cache.description") or ""),
                    created=_time(f.get("cache.createdAt")),
                    parents=_parents(f),
                    usage_count=int(f.get("cache.usageCount") or 0),
                ),
                folders=tuple(dict.fromkeys(folders)),
                blobs=(blob,) if blob else (),
                use_pending=not f.get("snapshot.committed") and rid not in twin_of,
            )
        )
    return tuple(listed)


def _parents(f: Mapping[str, Any]) -> tuple[str, ...]:
    merged = f.get("cache.mergeParents")
    if isinstance(merged, list) and merged:
        return tuple(str(p) for p in merged)
    found = [f.get(k) for k in ("cache.parent", "cache.lowerDiffParent", "cache.upperDiffParent")]
    return tuple(str(p) for p in found if isinstance(p, str) and p)


def _folder(worker: str, snapshots: Mapping[str, SnapshotRecord], f: Mapping[str, Any]) -> str | None:
    record = snapshots.get(str(f.get("cache.snapshot") or ""))
    return None if record is None else f"{worker}/snapshots/snapshots/{record.number}"


def _usage(
    snapshots: Mapping[str, SnapshotRecord], f: Mapping[str, Any], usage: DiskUsage, worker: str
) -> int:
    """The snapshotter's usage of the record's own snapshot: recorded at commit, else the blocks of its
    upper folder (containerd's ``fs.DiskUsage``); 0 where it has none (a blob-only record)."""
    record = snapshots.get(str(f.get("cache.snapshot") or ""))
    if record is None:
        return 0
    if record.recorded_size is not None:
        return record.recorded_size
    return usage.tree(Path(worker, "snapshots", "snapshots", str(record.number), "fs"))


def _blob(worker: str, f: Mapping[str, Any]) -> str | None:
    digest = f.get("cache.blob")
    if not isinstance(digest, str) or ":" not in digest:
        return None
    algorithm, _, hex_digest = digest.partition(":")
    return f"{worker}/content/blobs/{algorithm}/{hex_digest}"


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _time(nanoseconds: object) -> str:
    """A time BuildKit kept as nanoseconds since the epoch, as it prints it; "" for none."""
    return rfc3339_nano(nanoseconds) if isinstance(nanoseconds, int) and nanoseconds > 0 else ""
