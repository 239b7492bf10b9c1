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
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from layershare.errors import DataRootError
from layershare.ids import chain_ids
from layershare.model import (
    Builder,
    Container,
    DiskRoot,
    DiskSnapshot,
    EngineState,
    InactiveImage,
    InactiveStore,
    Snapshot,
    Volume,
    version_tuple,
)
from layershare.model.holdings import API_VOLUME_PRUNE_ANONYMOUS
from layershare.sources.disk.items import categories_of, containers_of, orphans_of, volumes_of, walk_notes
from layershare.sources.disk.layout import Layout, containerd_layout, graphdriver_layout
from layershare.sources.disk.walk import WALKERS, WalkResult, walk
from layershare.sources.engine import EngineSource
from layershare.sources.engine.builder_policy import engine_rules
from layershare.sources.engine.builders import BuilderReader, builder_volumes
from layershare.sources.engine.daemon_config import daemon_config
from layershare.sources.engine.system_df import system_df
from layershare.sources.holdings.reader import HoldingsReader
from layershare.sources.holdings.store import EngineStore
from layershare.sources.interface import DiskReader
from layershare.sources.stores import containerd, graphdriver
from layershare.sources.stores.inactive import (
    CONTAINERD_STORE,
    InactiveGraphdriver,
    inactive_containerd,
    inactive_graphdrivers,
)
from layershare.sources.stores.measure import layers_size_note, layers_size_rule
from layershare.times import now_iso


class DiskSource(DiskReader):
    """One engine's disk. ``data_root`` overrides the engine's ``DockerRootDir`` (proved, or refused).

    The engine's images are collected where its files are read (cheap as root, and what the images'
    share of a prune is planned on) or where ``with_images`` asks for them (the page's what-if panel);
    elsewhere the images' reclaimable bytes do not need them, and asking every image's inspect and
    history over the API would make ``disk`` slow for a member of the ``docker`` group.
    """

    def __init__(
        self,
        engine: EngineSource,
        *,
        data_root: str | None = None,
        with_images: bool = False,
        reader: HoldingsReader | None = None,
    ) -> None:
        self.engine = engine
        # ``reader``: one that already read this engine's images (browse walks after its first reading).
        self.reader = reader or HoldingsReader(engine, data_root=data_root)
        self.known_images = reader.snapshot if reader is not None else None
        self.data_root_override = data_root
        self.with_images = with_images
        self.inactive: list[InactiveGraphdriver] = []  # image stores the engine left (read by _layout)
        self.content_bytes = 0  # the images' content blobs in the engine's measure (read by _layout)

    def snapshot(self) -> DiskSnapshot:
        """Ask the engine once, walk what is readable, and return the model with the engine's holdings
        (what ``disk``'s reclaimable column plans on, as ``layershare free`` does)."""
        engine = self.engine
        answers = self.reader.answers()
        store = answers.store
        layout, why_not = self._layout(store, answers.containers, answers.volumes, answers.images)
        below_142 = not answers.api_at_least_142
        # As root, the walk sizes containers' writable layers and volumes as the engine does, so the
        # engine is asked only for what it alone knows: its build cache (from API 1.42 without walking
        # anything else; below, only when BuildKit has records at all). Without the files: everything.
        df_query: dict[str, object] | None = {}
        if layout is not None:
            if not below_142:
                df_query = {"type": ["build-cache"]}
            elif not layout.buildkit_records and not store.containerd:
                df_query = None
        reads_files = layout is not None
        builders_reader = BuilderReader(
            engine, files=reads_files, show_values=engine.show_values, store=store
        )
        with ThreadPoolExecutor(max_workers=3) as pool:
            builders_future = pool.submit(builders_reader.builders, answers.containers, answers.volumes, {})
            df_future = pool.submit(system_df, engine, **df_query) if df_query is not None else None
            known = self.known_images
            collect = (layout is not None or self.with_images) and known is None
            images_future = pool.submit(engine.snapshot) if collect else None
            walked = walk(layout.roots, workers=WALKERS) if layout is not None else None
            df = (df_future.result() if df_future is not None else None) or {}
            images = known or Snapshot(engine=answers.engine, images=(), layers=())
            if images_future is not None:
                images = self.reader.snapshot = images_future.result()
        # What a prune takes follows the API version the user's docker CLI speaks (as ``free``'s plans).
        state = self.reader.state_from(answers, df, images, readable=layout is not None, cli_api=True)
        containers = containers_of(
            state.containers, walked, store.data_root, containerd_store=store.containerd
        )
        volumes = volumes_of(state.volumes, walked)
        state_volumes = builder_volumes(answers.containers, answers.volumes)
        sizes = {v.name: v.bytes for v in volumes}
        builders = tuple(replace(b, volume_bytes=sizes.get(b.state_volume)) for b in builders_future.result())
        return DiskSnapshot(
            engine=answers.engine,
            data_root=store.data_root,
            data_root_readable=walked is not None,
            roots=tuple(
                DiskRoot(path, walked.roots.get(path) if walked else None)
                for path in (layout.roots if layout else [store.data_root])
            ),
            # LayersSize: the engine's answer where its files are not readable, else from its files.
            layers_bytes=int(df.get("LayersSize") or 0)
            if walked is None
            else _stored_layers_bytes(store, images, self.content_bytes),
            containers=containers,
            volumes=tuple(v for v in volumes if v.name not in state_volumes),
            build_cache=tuple(sorted(state.build_cache, key=lambda r: (-r.bytes, r.id))),
            builders=builders,
            build_cache_gc=engine_buildkit(state, store.data_root) if walked is not None else None,
            orphans=orphans_of(layout, walked),
            inactive_stores=tuple(_inactive(self.inactive, walked)),
            walked=categories_of(walked, state_volumes) if walked else None,
            volume_prune_all=version_tuple(state.api_version) < API_VOLUME_PRUNE_ANONYMOUS,
            notes=tuple(
                ([why_not] if why_not else [])
                + walk_notes(walked, layout)
                + ([layers_size_note(answers.engine.version)] if store.containerd else [])
            ),
            collected_at=now_iso(),
            holdings=_sized(state, containers, volumes),
        )

    def _layout(
        self,
        store: EngineStore,
        containers: list[dict[str, Any]],
        volumes: list[dict[str, Any]],
        listed_images: list[dict[str, Any]],
    ) -> tuple[Layout | None, str]:
        """The rules to walk by, or None and why the data root is not walked."""
        if not store.readable:
            return None, (
                f"the data root {store.data_root or '(unknown)'} is not readable from here: disk_bytes, "
                "logs, metadata and orphans need root on the engine's host"
            )
        proof = self._prove(store, containers, listed_images)
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
            left = inactive_containerd(store.data_root)
            self.inactive = [left] if left is not None else []
            where = CONTAINERD_STORE if left is not None else None
            return graphdriver_layout(store.data_root, store.driver, container_ids, volume_names, where), ""
        root = store.containerd_root
        assert root is not None  # proved above
        # Only the containerd store's layout needs image IDs (which blobs and snapshots images use).
        image_ids = [str(i["Id"]) for i in listed_images]
        chains: set[str] = set()
        for image_id in image_ids:
            config = containerd.read_config(root, image_id, store.architecture)
            if config is not None:
                chains.update(chain_ids(list((config.get("rootfs") or {}).get("diff_ids") or [])))
        content = containerd.read_store_at(root, store.driver, image_ids)
        # The images' content blobs at their length, each once: LayersSize counts them from 28.2.
        self.content_bytes = sum(
            int(b["bytes"]) for b in content["blobs"].values() if b.get("kind") != "kept"
        )
        self.inactive = inactive_graphdrivers(store.data_root)
        layout = containerd_layout(
            store.data_root,
            str(root),
            store.driver,
            container_ids=container_ids,
            volumes=volume_names,
            image_blobs=content["blobs"],
            image_chains=chains,
            inactive=[i.driver for i in self.inactive],
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
        for image in images[:3]:  # the engine's list, as read once for this run
            inspect = self.engine.get_json(f"/images/{image['Id']}/json")
            upper = ((inspect or {}).get("GraphDriver") or {}).get("Data") or {}
            folder = str(upper.get("UpperDir") or "")
            if folder:
                layer = Path(folder).parent.name
                if (root / store.driver / layer).is_dir():
                    return ""
                return f"it has no {store.driver}/{layer[:12]}..., a layer of image {str(image['Id'])[7:19]}"
        return ""


def engine_buildkit(state: EngineState, data_root: str) -> Builder:
    """The engine's own BuildKit as a builder: its records (``/system/df``) and the GC policy dockerd
    works out from its daemon.json and the disk under ``<data-root>/buildkit`` (as root on its host)."""
    config, where = daemon_config(data_root)
    folder = Path(data_root, "buildkit")
    try:
        found = os.statvfs(folder if folder.is_dir() else data_root)
        disk_total: int | None = found.f_bsize * found.f_blocks
    except OSError:
        disk_total = None
    engine = Builder(
        name="(engine)", container="", container_id="", image="", state_volume="", running=True,
        driver="docker", records=state.build_cache, free_bytes=state.build_cache_free_bytes,
        disk_size_bytes=disk_total, read_from="engine",
    )  # fmt: skip
    if config is None:
        return replace(engine, gc_policy_from="", notes=(f"its GC policy is not known: {where}",))
    on, rules, source = engine_rules(state.engine.version, config.get("builder"), disk_total)
    return replace(engine, gc_enabled=on, gc_policy=rules, gc_policy_from=source)


def _inactive(found: Iterable[InactiveGraphdriver], walked: WalkResult | None) -> Iterable[InactiveStore]:
    """The stores left beside the engine, with what the walk found of each on disk."""
    for store in found:
        tally = walked.owners.get(("inactive_store", store.driver)) if walked is not None else None
        yield InactiveStore(
            store=store.driver,
            path=CONTAINERD_STORE if store.driver == "containerd" else store.driver,
            bytes=store.bytes,
            disk_bytes=tally.disk_bytes if tally is not None else (0 if walked is not None else None),
            images=tuple(InactiveImage(i.id, i.tags, i.bytes) for i in store.images),
        )


def _sized(state: EngineState, containers: Iterable[Container], volumes: Iterable[Volume]) -> EngineState:
    """The state with each container's writable layer and each volume weighed as the disk measured them
    (the engine's own measure, read from its files), so that a plan on it adds up to the disk's rows."""
    units = dict(state.units)
    for c in containers:
        key = f"container:{c.id}"
        if key in units:
            units[key] = replace(units[key], bytes=c.size_rw_bytes)
    for v in volumes:
        key = f"volume:{v.name}"
        if key in units:
            units[key] = replace(units[key], bytes=v.bytes or 0)
    return replace(state, units=units)


def _stored_layers_bytes(store: EngineStore, images: Snapshot, content_bytes: int) -> int:
    """``LayersSize`` from the engine's files: every stored layer's recorded size (graphdriver); on the
    containerd store what the engine's version counts (:mod:`layershare.sources.stores.measure`): from
    29.6 the images' chains and content, as the report weighs them; from 28.2 every snapshot's usage and
    the images' content blobs (``content_bytes``); before, every snapshot's usage.
    Tests hold it against the engine's own ``/system/df``."""
    rule = layers_size_rule(images.engine.version)
    if store.containerd and rule == "image_chains_and_content":
        return images.stored_bytes
    if store.containerd:
        root = store.containerd_root
        found = containerd.snapshots_usage(root, store.driver) if root is not None else None
        if found is not None and rule == "all_snapshots_and_content":
            found += content_bytes
    else:
        found = graphdriver.stored_layers_bytes(store.graph_info)
    if found is None:
        raise DataRootError(f"the layer store under {store.data_root} could not be read")
    return found
