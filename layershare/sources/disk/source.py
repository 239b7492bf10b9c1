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
from layershare.model import (
    ContainerDisk,
    DiskRoot,
    DiskSnapshot,
)
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
from layershare.sources.disk.walk import walk
from layershare.sources.engine import EngineSource
from layershare.sources.recording import engine_info_from
from layershare.sources.stores import containerd, graphdriver
from layershare.times import now_iso


class DiskSource:
    """One engine's disk. ``data_root`` overrides the engine's ``DockerRootDir`` (proved, or refused)."""

    def __init__(self, engine: EngineSource, *, data_root: str | None = None) -> None:
        self.engine = engine
        self.data_root_override = data_root

    def snapshot(self) -> DiskSnapshot:
        """Ask the engine, walk what is readable, and return the model."""
        engine = self.engine
        notes: list[str] = []
        answers = {"version": engine.get_json("/version"), "info": engine.get_json("/info")}
        info = answers["info"]
        engine_info = engine_info_from(info, answers["version"], engine.where)
        data_root = self.data_root_override or str(info.get("DockerRootDir") or "")
        answers["containers"] = engine.get_json("/containers/json", all=1) or []
        volumes = (engine.get_json("/volumes") or {}).get("Volumes") or []
        layout, why_not = self._layout(answers, volumes, data_root)
        # As root, the walk sizes containers' writable layers and volumes as the engine does, so the
        # engine is asked only for what it alone knows: its build cache (from API 1.42 without walking
        # anything else; below, only when BuildKit has records at all). Without the files: everything.
        df_query: dict[str, object] | None = {}
        if layout is not None:
            if not _api_below(engine_info.api_version, (1, 42)):
                df_query = {"type": ["build-cache"]}
            elif not layout.buildkit_records and not is_containerd_store(info):
                df_query = None
        with ThreadPoolExecutor(max_workers=1) as pool:
            df_future = (
                pool.submit(engine.get_json, "/system/df", **df_query) if df_query is not None else None
            )
            walked = walk(layout.roots) if layout is not None else None
            df = (df_future.result() if df_future is not None else None) or {}
        if why_not:
            notes.append(why_not)
        containers = containers_of(df, answers, walked, data_root, containerd_store=is_containerd_store(info))
        snapshot_notes = walk_notes(walked, layout)
        return DiskSnapshot(
            engine=engine_info,
            data_root=data_root,
            data_root_readable=walked is not None,
            roots=tuple(
                DiskRoot(path, walked.roots.get(path) if walked else None)
                for path in (layout.roots if layout else [data_root])
            ),
            layers_bytes=self._layers_bytes(df, info, data_root, asked=walked is None),
            containers=containers,
            volumes=volumes_of(df, answers["containers"], volumes, walked),
            build_cache=build_cache_of(df, show_values=engine.show_values),
            orphans=orphans_of(layout, walked),
            walked=categories_of(walked) if walked else None,
            kept_layers_bytes=self._kept_layers(info, containers),
            volume_prune_all=_api_below(engine_info.api_version, (1, 42)),
            notes=tuple(notes + snapshot_notes),
            collected_at=now_iso(),
        )

    def _images(self) -> list[dict[str, Any]]:
        """``GET /images/json?all=1``, asked only where the layout needs image IDs (containerd store)."""
        return list(self.engine.get_json("/images/json", all=1) or [])

    def _layout(
        self, answers: Mapping[str, Any], volumes: list[dict[str, Any]], data_root: str
    ) -> tuple[Layout | None, str]:
        """The rules to walk by, or None and why the data root is not walked."""
        info = answers["info"]
        if not data_root or not os.access(data_root, os.R_OK | os.X_OK):
            return None, (
                f"the data root {data_root or '(unknown)'} is not readable from here: disk_bytes, logs, "
                "metadata and orphans need root on the engine's host"
            )
        containerd_store = is_containerd_store(info)
        images = self._images() if containerd_store else []
        proof = self._prove(answers, images, data_root)
        if proof:
            if self.data_root_override:
                raise DataRootError(
                    f"{data_root} is not the data root of the engine at {self.engine.where}: {proof}"
                )
            return None, f"the folder {data_root} on this machine is not this engine's data root ({proof})"
        container_ids = [str(c["Id"]) for c in answers["containers"]]
        volume_names = [str(v["Name"]) for v in volumes if v.get("Driver") == "local"]
        if not containerd_store:
            driver = str(info.get("Driver") or "overlay2")
            return graphdriver_layout(data_root, driver, container_ids, volume_names), ""
        store_root = containerd.find_store_near(data_root)
        if store_root is None:
            return None, "the containerd store's files are not readable from here"
        image_ids = [str(i["Id"]) for i in images]
        arch = str(info.get("Architecture") or "")
        chains: set[str] = set()
        for image_id in image_ids:
            config = containerd.read_config(store_root, image_id, arch)
            if config is not None:
                chains.update(chain_ids(list((config.get("rootfs") or {}).get("diff_ids") or [])))
        content = containerd.read_store_at(store_root, str(info.get("Driver") or "overlayfs"), image_ids)
        return (
            containerd_layout(
                data_root,
                str(store_root),
                str(info.get("Driver") or "overlayfs"),
                container_ids=container_ids,
                volumes=volume_names,
                image_blobs=content["blobs"],
                image_chains=chains,
            ),
            "",
        )

    def _prove(self, answers: Mapping[str, Any], images: list[dict[str, Any]], data_root: str) -> str:
        """Empty when ``data_root`` holds this engine's containers or images; else what is missing there.

        A container ID is random and an image's manifest content-addressed: finding one there proves it.
        """
        info = answers["info"]
        root = Path(data_root)
        if is_containerd_store(info):
            store = containerd.find_store_near(data_root)
            if store is None:
                return "it holds no containerd content store"
            if (
                images
                and not (store / containerd.CONTENT_BLOBS / images[0]["Id"].removeprefix("sha256:")).exists()
            ):
                return f"its content store does not hold image {images[0]['Id'][7:19]}"
            return ""
        driver = str(info.get("Driver") or "")
        layerdb = root / "image" / driver / "layerdb"
        if not layerdb.is_dir():
            return f"it has no image/{driver}/layerdb"
        containers = answers["containers"]
        if containers:
            cid = str(containers[0]["Id"])
            return "" if (layerdb / "mounts" / cid).is_dir() else f"it does not hold container {cid[:12]}"
        for image in (self.engine.get_json("/images/json") or [])[:3]:
            inspect = self.engine.get_json(f"/images/{image['Id']}/json")
            upper = ((inspect or {}).get("GraphDriver") or {}).get("Data") or {}
            folder = str(upper.get("UpperDir") or "")
            if folder:
                layer = Path(folder).parent.name
                if (root / driver / layer).is_dir():
                    return ""
                return f"it has no {driver}/{layer[:12]}..., a layer of image {str(image['Id'])[7:19]}"
        return ""

    def _layers_bytes(
        self, df: Mapping[str, Any], info: Mapping[str, Any], data_root: str, *, asked: bool
    ) -> int:
        """The engine's ``LayersSize``: from its answer when it was asked for (it says 0 when left out),
        else from its files (graphdriver: every stored layer's recorded size; containerd: every snapshot's
        usage)."""
        if asked:
            return int(df.get("LayersSize") or 0)
        if is_containerd_store(info):
            store = containerd.find_store_near(data_root)
            found = (
                containerd.snapshots_usage(store, str(info.get("Driver") or "overlayfs")) if store else None
            )
        else:
            found = graphdriver.stored_layers_bytes({**info, "DockerRootDir": data_root})
        if found is None:
            raise DataRootError(f"the layer store under {data_root} could not be read")
        return found

    def _kept_layers(self, info: Mapping[str, Any], containers: Iterable[ContainerDisk]) -> int | None:
        """The part of ``LayersSize`` that stays after ``docker system prune -a``: the layers of images
        running containers use (on the containerd store, also those containers' own snapshots)."""
        running = [c for c in containers if c.running]
        if not running:
            return 0
        data_root = self.data_root_override or str(info.get("DockerRootDir") or "")
        image_ids = {c.image_id for c in running}
        if is_containerd_store(info):
            store = containerd.find_store_near(data_root) if data_root else None
            if store is None:
                return None
            return containerd.kept_snapshot_bytes(
                store,
                str(info.get("Driver") or "overlayfs"),
                image_ids,
                {c.id for c in running},
                str(info.get("Architecture") or ""),
            )
        imagedb = graphdriver.imagedb(
            info if not self.data_root_override else {**info, "DockerRootDir": data_root}
        )
        if imagedb is None:
            return None
        chains: set[str] = set()
        for image_id in image_ids:
            try:
                config = graphdriver.read_image_config(imagedb, image_id)
            except (OSError, ValueError):
                return None
            chains.update(chain_ids(list(config["rootfs"]["diff_ids"])))
        sizes = graphdriver.read_layer_sizes({**info, "DockerRootDir": data_root}, chains)
        return sum(sizes.values()) if len(sizes) == len(chains) else None


def _api_below(version: str, bound: tuple[int, int]) -> bool:
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < bound
