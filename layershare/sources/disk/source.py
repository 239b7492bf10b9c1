"""A live engine's disk: what its API accounts for, and one walk of its data root where readable.

``GET /system/df`` (the engine walks containers' writable layers and volumes
for it) runs on a thread while this process walks the data root once, so the
two walks overlap on separate cores. The engine's figures give each
category's ``bytes`` as ``docker system df`` counts them; the walk gives
``disk_bytes`` for every category and item, the log files, the engine's
metadata and the orphans.

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
    BuildCacheDisk,
    Category,
    ContainerDisk,
    DiskRoot,
    DiskSnapshot,
    Orphan,
    Usage,
    VolumeDisk,
)
from layershare.redact import redact_created_by
from layershare.sources.answers import is_containerd_store
from layershare.sources.disk.layout import Layout, containerd_layout, graphdriver_layout
from layershare.sources.disk.walk import Owner, WalkResult, walk
from layershare.sources.engine import EngineSource
from layershare.sources.recording import engine_info_from
from layershare.sources.stores import containerd, graphdriver
from layershare.times import now_iso

ANONYMOUS_LABEL = "com.docker.volume.anonymous"


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
        # From API 1.42 the engine can leave out its image pass: as root the layer store gives LayersSize.
        types = None
        if (
            not _api_below(engine_info.api_version, (1, 42))
            and data_root
            and os.access(data_root, os.R_OK | os.X_OK)
        ):
            types = ["container", "volume", "build-cache"]
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The engine's own walk (containers' layers, volumes) runs while this process walks.
            df_future = pool.submit(engine.get_json, "/system/df", type=types)
            answers["containers"] = engine.get_json("/containers/json", all=1) or []
            volumes = (engine.get_json("/volumes") or {}).get("Volumes") or []
            layout, why_not = self._layout(answers, volumes, data_root)
            walked = walk(layout.roots) if layout is not None else None
            df = df_future.result() or {}
        if why_not:
            notes.append(why_not)
        containers = _containers(df, answers, walked, data_root)
        snapshot_notes = _walk_notes(walked, layout)
        return DiskSnapshot(
            engine=engine_info,
            data_root=data_root,
            data_root_readable=walked is not None,
            roots=tuple(
                DiskRoot(path, walked.roots.get(path) if walked else None)
                for path in (layout.roots if layout else [data_root])
            ),
            layers_bytes=self._layers_bytes(df, info, data_root, asked=types is None),
            containers=containers,
            volumes=_volumes(df, volumes, walked),
            build_cache=_build_cache(df, show_values=engine.show_values),
            orphans=_orphans(layout, walked),
            walked=_categories(walked) if walked else None,
            kept_layers_bytes=self._kept_layers(info, df, containers),
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

    def _kept_layers(
        self, info: Mapping[str, Any], df: Mapping[str, Any], containers: Iterable[ContainerDisk]
    ) -> int | None:
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


def _usage(walked: WalkResult | None, owner: Owner) -> Usage | None:
    if walked is None:
        return None
    tally = walked.owners.get(owner)
    return Usage(tally.bytes, tally.disk_bytes) if tally else Usage()


def _log_path(data_root: str, cid: str) -> str | None:
    """The container's log file as found on disk (json-file, else the local driver's), if any."""
    folder = Path(data_root, "containers", cid)
    for path in (folder / f"{cid}-json.log", folder / "local-logs" / "container.log"):
        if path.exists():
            return str(path)
    return None


def _containers(
    df: Mapping[str, Any], answers: Mapping[str, Any], walked: WalkResult | None, data_root: str
) -> tuple[ContainerDisk, ...]:
    listed = {str(c["Id"]): c for c in answers["containers"]}
    found = []
    for c in df.get("Containers") or []:
        cid = str(c["Id"])
        summary = listed.get(cid, c)
        names = summary.get("Names") or c.get("Names") or []
        found.append(
            ContainerDisk(
                id=cid,
                name=str(names[0]).lstrip("/") if names else cid[:12],
                image=str(c.get("Image") or ""),
                image_id=str(c.get("ImageID") or ""),
                state=str(c.get("State") or ""),
                size_rw_bytes=int(c.get("SizeRw") or 0),  # the engine omits a zero SizeRw
                disk=_usage(walked, ("containers", cid)),
                log=_usage(walked, ("logs", cid)),
                log_path=_log_path(data_root, cid) if walked is not None else None,
            )
        )
    return tuple(sorted(found, key=lambda c: (-c.size_rw_bytes, c.name)))


def _volumes(
    df: Mapping[str, Any], listed: Iterable[Mapping[str, Any]], walked: WalkResult | None
) -> tuple[VolumeDisk, ...]:
    users: dict[str, list[str]] = {}
    for c in df.get("Containers") or []:
        name = str((c.get("Names") or [c["Id"][:12]])[0]).lstrip("/")
        for mount in c.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name"):
                users.setdefault(str(mount["Name"]), []).append(name)
    labels = {str(v["Name"]): v.get("Labels") or {} for v in listed}
    found = []
    for v in df.get("Volumes") or []:
        name = str(v["Name"])
        size = (v.get("UsageData") or {}).get("Size")
        found.append(
            VolumeDisk(
                name=name,
                driver=str(v.get("Driver") or ""),
                bytes=int(size) if isinstance(size, int) and size >= 0 else None,
                containers=tuple(sorted(users.get(name, []))),
                anonymous=ANONYMOUS_LABEL in (labels.get(name) or v.get("Labels") or {}),
                disk=_usage(walked, ("volumes", name)),
            )
        )
    return tuple(sorted(found, key=lambda v: (-(v.bytes or 0), v.name)))


def _build_cache(df: Mapping[str, Any], *, show_values: bool) -> tuple[BuildCacheDisk, ...]:
    records = [
        BuildCacheDisk(
            id=str(r.get("ID") or ""),
            type=str(r.get("Type") or ""),
            bytes=int(r.get("Size") or 0),
            shared=bool(r.get("Shared")),
            in_use=bool(r.get("InUse")),
            last_used=str(r.get("LastUsedAt") or ""),
            description=_shown(str(r.get("Description") or ""), show_values),
        )
        for r in df.get("BuildCache") or []
    ]
    return tuple(sorted(records, key=lambda r: (-r.bytes, r.id)))


def _shown(description: str, show_values: bool) -> str:
    """A build-cache description names the RUN command it came from: values masked, as in history."""
    return description if show_values else redact_created_by(description)


def _orphans(layout: Layout | None, walked: WalkResult | None) -> tuple[Orphan, ...]:
    if layout is None or walked is None:
        return ()
    found = [
        Orphan(
            root=o.root,
            path=o.path,
            kind=o.kind,
            why=o.why,
            usage=_usage(walked, ("orphans", key)) or Usage(),
        )
        for key, o in layout.orphans.items()
    ]
    return tuple(sorted(found, key=lambda o: (-o.usage.disk_bytes, o.path)))


def _categories(walked: WalkResult) -> dict[Category, Usage]:
    totals: dict[Category, list[int]] = {}
    for (category, _item), tally in walked.owners.items():
        bucket = totals.setdefault(category, [0, 0])
        bucket[0] += tally.bytes
        bucket[1] += tally.disk_bytes
    return {category: Usage(b, d) for category, (b, d) in totals.items()}


def _walk_notes(walked: WalkResult | None, layout: Layout | None) -> list[str]:
    notes = list(layout.notes) if layout else []
    if walked is not None and walked.vanished:
        notes.append(
            f"{walked.vanished} file(s) vanished while the data root was walked (a running container?)"
        )
    if walked is not None and walked.unreadable:
        notes.append(f"{len(walked.unreadable)} folder(s) could not be read, e.g. {walked.unreadable[0]}")
    return notes
