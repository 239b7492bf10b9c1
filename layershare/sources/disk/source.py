"""A live engine's disk: one walk of its data root where readable, and what only its API knows.

Where the data root is readable (root on the engine's host), one walk sizes
everything: ``disk_bytes`` of every category and item, the log files, the
metadata and the orphans, and also what the engine itself would size, in its
own terms: each container's writable layer (moby's directory size of its
``diff``; on the containerd store the block usage of its snapshot) and each
local volume (the directory size of its ``_data``); ``LayersSize`` comes from
the layer store's recorded sizes (or the snapshots' usage). The engine is asked
only for its build cache (``GET /system/df?type=build-cache`` from API 1.42;
below that the whole ``/system/df``, and only when BuildKit has records), on a
thread while the walk runs. Tests hold every such figure against the engine's
own ``/system/df``. Without the files, every figure comes from ``/system/df``.

Before walking, the data root is proved to be this engine's (a layer folder
an image's inspect names, or an image's manifest in the containerd store):
a remote engine's path may exist here and belong to another engine.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from layershare.errors import DataRootError
from layershare.ids import chain_ids
from layershare.model import ContainerDisk, DiskRoot, DiskSnapshot
from layershare.sources.answers import is_containerd_store
from layershare.sources.disk.items import (
    build_cache_of,
    categories_of,
    containers_of,
    orphans_of,
    volumes_of,
    walk_notes,
)
from layershare.sources.disk.layout import Layout, containerd_layout, graphdriver_layout
from layershare.sources.disk.walk import WALKERS, walk
from layershare.sources.engine import EngineSource
from layershare.sources.recording import engine_info_from
from layershare.sources.stores import containerd, graphdriver
from layershare.times import now_iso


class EngineStore:
    """What one run knows of the engine's image store, derived once: its kind, driver and folders."""

    def __init__(self, info: Mapping[str, Any], data_root: str) -> None:
        self.info = info
        self.data_root = data_root
        self.containerd = is_containerd_store(info)
        self.driver = str(info.get("Driver") or ("overlayfs" if self.containerd else "overlay2"))
        self.architecture = str(info.get("Architecture") or "")
        self.readable = bool(data_root) and os.access(data_root, os.R_OK | os.X_OK)
        self.containerd_root = (
            containerd.find_store_near(data_root) if self.containerd and data_root else None
        )
        # GET /info as if it named this data root: what the graphdriver store's readers take.
        self.graph_info = {**info, "DockerRootDir": data_root}


class DiskSource:
    """One engine's disk. ``data_root`` overrides the engine's ``DockerRootDir`` (proved, or refused)."""

    def __init__(self, engine: EngineSource, *, data_root: str | None = None) -> None:
        self.engine = engine
        self.data_root_override = data_root

    def snapshot(self) -> DiskSnapshot:
        """Ask the engine, walk what is readable, and return the model."""
        engine = self.engine
        answers = {"version": engine.get_json("/version"), "info": engine.get_json("/info")}
        engine_info = engine_info_from(answers["info"], answers["version"], engine.where)
        store = EngineStore(answers["info"], self.data_root_override or engine_info.root_dir)
        answers["containers"] = engine.get_json("/containers/json", all=1) or []
        volumes = (engine.get_json("/volumes") or {}).get("Volumes") or []
        layout, why_not = self._layout(store, answers["containers"], volumes)
        below_142 = _api_below(engine_info.api_version, (1, 42))
        # As root, the walk sizes containers' writable layers and volumes as the engine does, so the
        # engine is asked only for what it alone knows: its build cache (from API 1.42 without walking
        # anything else; below, only when BuildKit has records at all). Without the files: everything.
        df_query: dict[str, object] | None = {}
        if layout is not None:
            if not below_142:
                df_query = {"type": ["build-cache"]}
            elif not layout.buildkit_records and not store.containerd:
                df_query = None
        with ThreadPoolExecutor(max_workers=1) as pool:
            df_future = (
                pool.submit(engine.get_json, "/system/df", **df_query) if df_query is not None else None
            )
            walked = walk(layout.roots, workers=WALKERS) if layout is not None else None
            df = (df_future.result() if df_future is not None else None) or {}
        containers = containers_of(df, answers, walked, store.data_root, containerd_store=store.containerd)
        return DiskSnapshot(
            engine=engine_info,
            data_root=store.data_root,
            data_root_readable=walked is not None,
            roots=tuple(
                DiskRoot(path, walked.roots.get(path) if walked else None)
                for path in (layout.roots if layout else [store.data_root])
            ),
            # LayersSize: the engine's answer where its files are not readable, else from its files.
            layers_bytes=int(df.get("LayersSize") or 0) if walked is None else _stored_layers_bytes(store),
            containers=containers,
            volumes=volumes_of(df, answers["containers"], volumes, walked),
            build_cache=build_cache_of(df, show_values=engine.show_values),
            orphans=orphans_of(layout, walked),
            walked=categories_of(walked) if walked else None,
            kept_layers_bytes=_kept_layers(store, containers),
            volume_prune_all=below_142,
            notes=tuple(([why_not] if why_not else []) + walk_notes(walked, layout)),
            collected_at=now_iso(),
        )

    def _layout(
        self, store: EngineStore, containers: list[dict[str, Any]], volumes: list[dict[str, Any]]
    ) -> tuple[Layout | None, str]:
        """The rules to walk by, or None and why the data root is not walked."""
        if not store.readable:
            return None, (
                f"the data root {store.data_root or '(unknown)'} is not readable from here: disk_bytes, "
                "logs, metadata and orphans need root on the engine's host"
            )
        # Only the containerd store's layout needs image IDs (which blobs and snapshots images use).
        images = list(self.engine.get_json("/images/json", all=1) or []) if store.containerd else []
        proof = self._prove(store, containers, images)
        if proof:
            if self.data_root_override:
                raise DataRootError(
                    f"{store.data_root} is not the data root of the engine at {self.engine.where}: {proof}"
                )
            return (
                None,
                f"the folder {store.data_root} on this machine is not this engine's data root ({proof})",
            )
        container_ids = [str(c["Id"]) for c in containers]
        volume_names = [str(v["Name"]) for v in volumes if v.get("Driver") == "local"]
        if not store.containerd:
            return graphdriver_layout(store.data_root, store.driver, container_ids, volume_names), ""
        root = store.containerd_root
        assert root is not None  # proved above
        image_ids = [str(i["Id"]) for i in images]
        chains: set[str] = set()
        for image_id in image_ids:
            config = containerd.read_config(root, image_id, store.architecture)
            if config is not None:
                chains.update(chain_ids(list((config.get("rootfs") or {}).get("diff_ids") or [])))
        content = containerd.read_store_at(root, store.driver, image_ids)
        layout = containerd_layout(
            store.data_root,
            str(root),
            store.driver,
            container_ids=container_ids,
            volumes=volume_names,
            image_blobs=content["blobs"],
            image_chains=chains,
        )
        return layout, ""

    def _prove(
        self, store: EngineStore, containers: list[dict[str, Any]], images: list[dict[str, Any]]
    ) -> str:
        """Empty when the data root holds this engine's containers or images; else what is missing there.

        A container ID is random and an image's manifest content-addressed: finding one there proves it.
        """
        root = Path(store.data_root)
        if store.containerd:
            if store.containerd_root is None:
                return "it holds no containerd content store"
            first = str(images[0]["Id"]) if images else None
            if (
                first
                and not (
                    store.containerd_root / containerd.CONTENT_BLOBS / first.removeprefix("sha256:")
                ).exists()
            ):
                return f"its content store does not hold image {first[7:19]}"
            return ""
        layerdb = root / "image" / store.driver / "layerdb"
        if not layerdb.is_dir():
            return f"it has no image/{store.driver}/layerdb"
        if containers:
            cid = str(containers[0]["Id"])
            return "" if (layerdb / "mounts" / cid).is_dir() else f"it does not hold container {cid[:12]}"
        for image in (self.engine.get_json("/images/json") or [])[:3]:
            inspect = self.engine.get_json(f"/images/{image['Id']}/json")
            upper = ((inspect or {}).get("GraphDriver") or {}).get("Data") or {}
            folder = str(upper.get("UpperDir") or "")
            if folder:
                layer = Path(folder).parent.name
                if (root / store.driver / layer).is_dir():
                    return ""
                return f"it has no {store.driver}/{layer[:12]}..., a layer of image {str(image['Id'])[7:19]}"
        return ""


def _stored_layers_bytes(store: EngineStore) -> int:
    """``LayersSize`` from the engine's files: every stored layer's recorded size (graphdriver), every
    snapshot's usage (containerd). Tests hold it against the engine's own ``/system/df``."""
    if store.containerd:
        root = store.containerd_root
        found = containerd.snapshots_usage(root, store.driver) if root is not None else None
    else:
        found = graphdriver.stored_layers_bytes(store.graph_info)
    if found is None:
        raise DataRootError(f"the layer store under {store.data_root} could not be read")
    return found


def _kept_layers(store: EngineStore, containers: Iterable[ContainerDisk]) -> int | None:
    """The part of ``LayersSize`` that stays after ``docker system prune -a``: the layers of images
    running containers use (on the containerd store, also those containers' own snapshots)."""
    running = [c for c in containers if c.running]
    if not running:
        return 0
    image_ids = {c.image_id for c in running}
    if store.containerd:
        if store.containerd_root is None:
            return None
        return containerd.kept_snapshot_bytes(
            store.containerd_root, store.driver, image_ids, {c.id for c in running}, store.architecture
        )
    imagedb = graphdriver.imagedb(store.graph_info)
    if imagedb is None:
        return None
    chains: set[str] = set()
    for image_id in image_ids:
        try:
            config = graphdriver.read_image_config(imagedb, image_id)
        except (OSError, ValueError):
            return None
        chains.update(chain_ids(list(config["rootfs"]["diff_ids"])))
    sizes = graphdriver.read_layer_sizes(store.graph_info, chains)
    return sum(sizes.values()) if len(sizes) == len(chains) else None


def _api_below(version: str, bound: tuple[int, int]) -> bool:
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < bound
