"""A live engine as a removal sees it: who holds every layer, snapshot, blob, writable layer, volume and
build-cache record, and what each weighs in the engine's measure and on disk.

Images and their layers come from the report's own collection (its cache
included). As root on the engine's host the image store's files say the
rest: on the graphdriver store, the layers BuildKit keeps (its
``snapshots.db``) and the containers' writable layers; on the containerd
store, every snapshot and blob with what keeps it (image records through
content labels, containers' snapshots, leases), as containerd's collector
walks them. ``GET /system/df`` is asked only when containers, volumes or the
build cache are part of the removal (or the files are not readable).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from layershare.ids import chain_ids
from layershare.model import (
    SOFT,
    BuildRecord,
    EngineContainer,
    EngineImage,
    EngineState,
    EngineVolume,
    Snapshot,
    StoredUnit,
)
from layershare.sources.disk.items import ANONYMOUS_LABEL, container_name
from layershare.sources.disk.source import EngineStore
from layershare.sources.engine import EngineSource
from layershare.sources.engine.cli_api import cli_api_version, version_tuple
from layershare.sources.recording import engine_info_from
from layershare.sources.stores import buildkit, containerd, containerd_meta
from layershare.sources.stores.usage import DiskUsage
from layershare.times import now_iso, unix_time


class RemovalSource:
    """Reads one live engine for ``layershare free`` (never changes it)."""

    def __init__(self, engine: EngineSource, *, data_root: str | None = None, api_version: str | None = None):
        self.engine = engine
        self.data_root_override = data_root
        self.api_version = api_version
        self.paths: dict[str, tuple[str, ...]] = {}
        self.snapshot: Snapshot | None = None  # the report's collection the last state was built on

    def state(self, *, with_df: bool, cli_api: bool = False) -> EngineState:
        """The engine's state; ``with_df`` asks ``/system/df`` for containers', volumes' and build sizes,
        ``cli_api`` finds the API version the user's docker CLI speaks (what ``volume prune`` takes)."""
        engine = self.engine
        version, info = engine.get_json("/version"), engine.get_json("/info")
        engine_info = engine_info_from(info, version, engine.where)
        store = EngineStore(info, self.data_root_override or engine_info.root_dir)
        df_query: dict[str, object] | None = None
        if with_df or not store.readable:
            # From API 1.42 the engine sizes only what is asked: not the images (known already).
            recent = version_tuple(engine_info.api_version) >= (1, 42)
            df_query = {"type": ["container", "volume", "build-cache"]} if recent else {}
        # The engine sizes containers, volumes and build cache while the images are collected.
        with ThreadPoolExecutor(max_workers=1) as pool:
            df_future = (
                pool.submit(engine.get_json, "/system/df", **df_query) if df_query is not None else None
            )
            snapshot = self.snapshot = engine.snapshot()
            listed = engine.get_json("/images/json", all=1) or []
            containers_json = engine.get_json("/containers/json", all=1) or []
            volumes_json = (engine.get_json("/volumes") or {}).get("Volumes") or []
            df: Mapping[str, Any] = (df_future.result() if df_future is not None else None) or {}
        notes: list[str] = []
        units: dict[str, StoredUnit] = {}
        others: dict[str, tuple[str, ...]] = {}
        images = _images(listed)
        sizes_rw = {str(c["Id"]): int(c.get("SizeRw") or 0) for c in df.get("Containers") or []}
        volume_sizes = {
            str(v["Name"]): int((v.get("UsageData") or {}).get("Size") or 0) for v in df.get("Volumes") or []
        }
        records = list(df.get("BuildCache") or [])
        readable = store.readable
        if readable and store.containerd and store.containerd_root is None:
            readable = False
        if readable and store.containerd:
            holds = self._containerd_units(store, images, containers_json, records, units, others)
        else:
            holds = self._graphdriver_units(
                store, snapshot, containers_json, records, units, others, readable
            )
        if not readable:
            notes.append(
                f"the data root {store.data_root} is not readable from here: freed_disk_bytes needs root on "
                "the engine's host; freed_bytes is an estimate there (layers the build cache keeps, and "
                "which it counts, are not seen)"
            )
        state_images = tuple(
            EngineImage(
                id=i["id"],
                tags=i["tags"],
                created=i["created"],
                parent_id=i["parent"],
                holds=holds.get(f"image:{i['id']}", ()),
                labels=i["labels"],
                digests=i["digests"],
            )
            for i in images
        )
        containers = []
        for c in containers_json:
            cid = str(c["Id"])
            unit = f"container:{cid}"
            units[unit] = StoredUnit(unit, "container", sizes_rw.get(cid, 0), None)
            self.paths.setdefault(unit, ())
            self.paths[unit] += _log_paths(store.data_root, cid) if readable else ()
            containers.append(
                EngineContainer(
                    id=cid,
                    name=container_name(c),
                    image_id=str(c.get("ImageID") or ""),
                    image=str(c.get("Image") or ""),
                    state=str(c.get("State") or ""),
                    created=float(c.get("Created") or 0),
                    volumes=tuple(
                        str(m.get("Name")) for m in c.get("Mounts") or [] if m.get("Type") == "volume"
                    ),
                    holds=(unit, *holds.get(f"container:{cid}", ())),
                    labels=dict(c.get("Labels") or {}),
                )
            )
        volumes = []
        for v in volumes_json:
            name = str(v["Name"])
            unit = f"volume:{name}"
            units[unit] = StoredUnit(unit, "volume", volume_sizes.get(name, 0), None)
            if readable and v.get("Driver") == "local":
                self.paths[unit] = (str(Path(store.data_root, "volumes", name)),)
            labels = dict(v.get("Labels") or {})
            volumes.append(
                EngineVolume(
                    name=name,
                    driver=str(v.get("Driver") or ""),
                    anonymous=ANONYMOUS_LABEL in labels,
                    containers=tuple(
                        container_name(c)
                        for c in containers_json
                        if any(m.get("Name") == name for m in c.get("Mounts") or [])
                    ),
                    labels=labels,
                )
            )
        build = tuple(
            BuildRecord(
                id=str(r.get("ID")),
                type=str(r.get("Type") or ""),
                bytes=int(r.get("Size") or 0),
                shared=bool(r.get("Shared")),
                in_use=bool(r.get("InUse")),
                last_used=float(unix_time(r.get("LastUsedAt") or r.get("CreatedAt") or "")),
                parents=tuple(
                    str(p) for p in (r.get("Parents") or ([r["Parent"]] if r.get("Parent") else []))
                ),
                holds=holds.get(f"build:{r.get('ID')}", ()),
            )
            for r in records
        )
        if store.containerd and records:
            notes.append(
                "on the containerd store the engine sizes a build-cache record with its blobs and "
                "snapshots; the build cache's share of freed_bytes is an estimate there"
            )
        return EngineState(
            engine=engine_info,
            images=state_images,
            containers=tuple(containers),
            volumes=tuple(volumes),
            build_cache=build,
            units=units,
            others=others,
            api_version=self.api_version
            or (cli_api_version(engine_info.api_version) if cli_api else engine_info.api_version),
            disk_readable=readable,
            notes=tuple(notes),
            collected_at=now_iso(),
        )

    def disk_bytes(self, keys: Iterable[str]) -> dict[str, int]:
        """Allocated bytes of each unit's files and folders (hard links once), as ``du`` counts them."""
        usage = DiskUsage()
        found = {}
        for key in keys:
            total = 0
            for path in self.paths.get(key, ()):
                total += usage.tree(Path(path)) if os.path.lexists(path) else 0
            found[key] = total
        return found

    # --- the graphdriver store ---
    def _graphdriver_units(
        self,
        store: EngineStore,
        snapshot: Snapshot,
        containers_json: list[dict[str, Any]],
        records: list[dict[str, Any]],
        units: dict[str, StoredUnit],
        others: dict[str, tuple[str, ...]],
        readable: bool,
    ) -> dict[str, tuple[str, ...]]:
        root = Path(store.data_root)
        layerdb = root / "image" / store.driver / "layerdb"
        sizes = {layer.chain_id: layer.size_bytes for layer in snapshot.layers}
        parents = {layer.chain_id: layer.parent_chain_id for layer in snapshot.layers}

        def layer(chain: str) -> str:
            key = f"layer:{chain}"
            if key not in units:
                if chain not in sizes and readable:
                    sizes[chain] = _read_int(layerdb / "sha256" / chain[7:] / "size")
                    parent = _read_text(layerdb / "sha256" / chain[7:] / "parent")
                    parents[chain] = parent or None
                units[key] = StoredUnit(key, "layer", sizes.get(chain, 0), None, counted_with_images=True)
                cache_id = _read_text(layerdb / "sha256" / chain[7:] / "cache-id") if readable else ""
                self.paths[key] = (str(root / store.driver / cache_id),) if cache_id else ()
            return key

        def chain_of(top: str) -> tuple[str, ...]:
            found: list[str] = []
            current: str | None = top
            while current and len(found) < 1000:
                found.append(layer(current))
                current = parents.get(current)
            return tuple(found)

        holds: dict[str, tuple[str, ...]] = {}
        for image in snapshot.images:
            holds[f"image:{image.id}"] = chain_of(image.chain_ids[-1]) if image.chain_ids else ()
        tops = {i.id: (i.chain_ids[-1] if i.chain_ids else "") for i in snapshot.images}
        for c in containers_json:
            cid = str(c["Id"])
            unit = f"container:{cid}"
            paths = []
            if readable:
                for name in ("mount-id", "init-id"):
                    folder = _read_text(layerdb / "mounts" / cid / name)
                    if folder:
                        paths.append(str(root / store.driver / folder))
            self.paths[unit] = tuple(paths)
            top = tops.get(str(c.get("ImageID") or ""), "")
            holds[unit] = chain_of(top) if top else ()
        kept_by_buildkit = buildkit.snapshots(root / "buildkit" / "snapshots.db") if readable else {}
        record_ids = {str(r.get("ID")) for r in records}
        # snapshots.db keeps entries of records BuildKit has pruned: only live records keep a layer.
        live = buildkit.records(root / "buildkit" / "metadata_v2.db") if readable else {}
        for key, entry in kept_by_buildkit.items():
            if entry.get("chainid") and key in live and key not in record_ids:
                # A record (not asked for: /system/df was not needed) that keeps this layer on disk, and
                # that the engine counts at its own size once no image holds the layer.
                layers = chain_of(entry["chainid"])
                unit = f"build:{key}"
                units[unit] = StoredUnit(
                    unit, "build_cache", live[key].size, None, uncounted_under=layers[:1]
                )
                others[f"build cache {key}"] = (unit, *layers)
        for r in records:
            rid = str(r.get("ID"))
            entry = kept_by_buildkit.get(rid, {})
            key = f"build:{rid}"
            # A record committed to the layer store: its committed folder is that layer's (held apart).
            folders = [rid] + (
                [entry["committed"]] if entry.get("committed") and not entry.get("chainid") else []
            )
            if entry.get("chainid"):
                # A record backed by a layer of the layer store: counted by the engine (at its own
                # size) only while no image holds that layer; it keeps the layer on disk either way.
                layers = chain_of(entry["chainid"])
                size = int(r.get("Size") or 0)
                units[key] = StoredUnit(key, "build_cache", size, None, uncounted_under=layers[:1])
                holds[key] = (key, *layers)
            else:
                units[key] = StoredUnit(
                    key, "build_cache", 0 if r.get("Shared") else int(r.get("Size") or 0), None
                )
                holds[key] = (key,)
            self.paths[key] = tuple(str(root / store.driver / f) for f in folders) if readable else ()
        return holds

    # --- the containerd store ---
    def _containerd_units(
        self,
        store: EngineStore,
        images: list[dict[str, Any]],
        containers_json: list[dict[str, Any]],
        records: list[dict[str, Any]],
        units: dict[str, StoredUnit],
        others: dict[str, tuple[str, ...]],
    ) -> dict[str, tuple[str, ...]]:
        root = store.containerd_root
        assert root is not None
        folder = root / f"io.containerd.snapshotter.v1.{store.driver}"
        snapshots = {
            k: r for k, r in containerd_meta.read_snapshot_records(folder).items()
            if r.namespace == containerd_meta.NAMESPACE
        }  # fmt: skip
        by_name = {r.name: k for k, r in snapshots.items()}
        usage = DiskUsage()
        refs = containerd_meta.read_content_refs(root)
        blob_dir = root / containerd.CONTENT_BLOBS

        def snap(key: str | None) -> list[str]:
            found: list[str] = []
            while key is not None and key in snapshots and len(found) < 1000:
                unit = f"snapshot:{key}"
                record = snapshots[key]
                if unit not in units:
                    try:
                        size = containerd_meta.reported_usage(folder, record, usage)
                    except OSError:
                        size = 0
                    units[unit] = StoredUnit(unit, "snapshot", size, None)
                    self.paths[unit] = (str(folder / "snapshots" / str(record.number)),)
                found.append(unit)
                key = record.parent
            return found

        def blobs(start: Iterable[str]) -> list[str]:
            found = []
            for digest in containerd_meta.reachable(start, refs):
                unit = f"blob:{digest}"
                if unit not in units:
                    units[unit] = StoredUnit(unit, "blob", 0, None)
                    self.paths[unit] = (str(blob_dir / digest.removeprefix("sha256:")),)
                found.append(unit)
            return found

        holds: dict[str, tuple[str, ...]] = {}
        for image in images:
            config = containerd.read_config(root, image["id"], store.architecture)
            diff_ids = list(((config or {}).get("rootfs") or {}).get("diff_ids") or [])
            chain = chain_ids(diff_ids)
            top = by_name.get(chain[-1]) if chain else None
            holds[f"image:{image['id']}"] = tuple(blobs([image["id"]]) + snap(top))
        for c in containers_json:
            cid = str(c["Id"])
            holds[f"container:{cid}"] = tuple(snap(by_name.get(cid)) + snap(by_name.get(f"{cid}-init")))
            self.paths[f"container:{cid}"] = ()
        record_ids = {str(r.get("ID")) for r in records}
        container_ids = {str(c["Id"]) for c in containers_json}
        sizes = {str(r.get("ID")): int(r.get("Size") or 0) for r in records}
        # BuildKit's records: one backed by a layer is "shared" (uncounted) while some image's manifest
        # lists exactly the layers of its chain, or of a record built on it; else the engine counts it
        # at its size, beside its own snapshot (BuildKit's ImageRefChecker on this store).
        meta = buildkit.records(
            Path(store.data_root, "buildkit", f"containerd-{store.driver}", "metadata_v2.db")
        )
        sharing = buildkit.sharing_keys(meta)
        for image in images:
            for layer_list in _manifest_layers(blob_dir, image["id"]):
                key = f"layers:{'+'.join(layer_list)}"
                units.setdefault(key, StoredUnit(key, "blob", 0, 0))
                holds[f"image:{image['id']}"] = (*holds.get(f"image:{image['id']}", ()), key)
        for lease in containerd_meta.read_leases(root):
            if lease.namespace != containerd_meta.NAMESPACE:
                # Content is stored once for every namespace: another's lease (BuildKit's build
                # history) keeps blobs from the collector too.
                # A build-history lease (BuildKit's) names blobs of the images it built. Measured on
                # Engine 26.1, some of those an image also holds go with the image, some stay: a
                # "soft" holder, whose blobs make freed_disk_bytes a range.
                held_there = set(lease.content) & containerd_meta.recorded_blobs(root, lease.namespace)
                others[f"{SOFT}{lease.namespace} lease {lease.id}"] = tuple(blobs(held_there))
                continue
            kept = [u for name in lease.snapshots for u in snap(by_name.get(name))] + blobs(lease.content)
            owner = lease.id.removesuffix("-view").removesuffix("-variants")  # BuildKit's side leases
            if lease.id in container_ids:  # the engine leases what each container uses
                holds[f"container:{lease.id}"] = (*holds.get(f"container:{lease.id}", ()), *kept)
                continue
            unit = f"build:{lease.id}"
            if sharing.get(lease.id):
                size = meta[lease.id].size
                units[unit] = StoredUnit(
                    unit, "build_cache", sizes.get(lease.id, size), None,
                    uncounted_under=tuple(sharing[lease.id]),
                )  # fmt: skip
                kept = [unit, *kept]
                self.paths.setdefault(unit, ())
            if owner in record_ids:
                holds[f"build:{owner}"] = (*holds.get(f"build:{owner}", ()), *kept)
            else:  # BuildKit's temporary leases expire or go with the records they serve
                others[f"{SOFT}lease {lease.id}"] = tuple(kept)
        for r in records:
            rid = str(r.get("ID"))
            key = f"build:{rid}"
            if key not in units:
                size = 0 if r.get("Shared") else int(r.get("Size") or 0)
                units[key] = StoredUnit(key, "build_cache", size, None)
                holds[key] = (key, *holds.get(key, ()))
            self.paths.setdefault(key, ())
        # Blob files no namespace has a record of: containerd's collector removes them when it next
        # runs (an image deleted runs it).
        recorded = containerd_meta.recorded_blobs(root)
        if recorded:
            stray = [f"sha256:{p.name}" for p in _entries(blob_dir) if f"sha256:{p.name}" not in recorded]
            others["garbage"] = tuple(blobs(stray))
        # Snapshots nothing above names (a view, a key of another client) are kept by something unknown.
        named = {u for keys in holds.values() for u in keys} | {u for keys in others.values() for u in keys}
        rest = [u for key in snapshots for u in snap(key) if u not in named]
        if rest:
            others["containerd"] = tuple(dict.fromkeys(rest))
        return holds


def _images(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every image the engine lists (intermediate ones too), with its tags, creation time and labels."""
    found = []
    for entry in listed:
        image_id = str(entry.get("Id") or "")
        tags = tuple(t for t in entry.get("RepoTags") or [] if t and t != "<none>:<none>")
        found.append(
            {
                "id": image_id,
                "tags": tags,
                "created": float(entry.get("Created") or 0),
                "parent": str(entry.get("ParentId") or ""),
                "labels": dict(entry.get("Labels") or {}),
                "digests": tuple(d for d in entry.get("RepoDigests") or [] if d and "<none>" not in d),
            }
        )
    return found


def _entries(folder: Path) -> list[Path]:
    try:
        return [folder / name for name in os.listdir(folder)]
    except OSError:
        return []


def _log_paths(data_root: str, cid: str) -> tuple[str, ...]:
    folder = Path(data_root, "containers", cid)
    try:
        names = os.listdir(folder)
    except OSError:
        return ()
    return tuple(str(folder / n) for n in names if n.startswith(f"{cid}-json.log") or n == "local-logs")


def _manifest_layers(blob_dir: Path, target: str) -> list[tuple[str, ...]]:
    """The layer digests of each manifest an image's target names (one per platform)."""

    def read(digest: str) -> Any:
        try:
            return json.loads((blob_dir / digest.removeprefix("sha256:")).read_bytes())
        except (OSError, ValueError):
            return None

    top = read(target)
    if not isinstance(top, dict):
        return []
    manifests = (
        [top] if "layers" in top else [read(str(m.get("digest", ""))) for m in top.get("manifests") or []]
    )
    return [
        tuple(str(layer.get("digest", "")) for layer in m["layers"])
        for m in manifests
        if isinstance(m, dict) and isinstance(m.get("layers"), list)
    ]


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _read_int(path: Path) -> int:
    try:
        return int(_read_text(path) or 0)
    except ValueError:
        return 0
