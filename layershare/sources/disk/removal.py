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

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from layershare.engine_state import (
    BuildRecord,
    EngineContainer,
    EngineImage,
    EngineState,
    EngineVolume,
    StoredUnit,
)
from layershare.model import Snapshot
from layershare.sources.disk.items import ANONYMOUS_LABEL, container_name
from layershare.sources.disk.layout import is_log
from layershare.sources.disk.removal_containerd import containerd_units
from layershare.sources.disk.removal_graphdriver import graphdriver_units
from layershare.sources.disk.source import EngineStore
from layershare.sources.engine import EngineSource
from layershare.sources.engine.cli_api import cli_api_version, version_tuple
from layershare.sources.recording import engine_info_from
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
            holds = containerd_units(store, images, containers_json, records, units, others, self.paths)
        else:
            holds = graphdriver_units(
                store, snapshot, containers_json, records, units, others, self.paths, readable
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


def _log_paths(data_root: str, cid: str) -> tuple[str, ...]:
    folder = Path(data_root, "containers", cid)
    try:
        names = os.listdir(folder)
    except OSError:
        return ()
    return tuple(str(folder / n) for n in names if is_log(cid, n))
