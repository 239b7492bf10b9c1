"""A live engine's holdings: who holds every layer, snapshot, blob, writable layer, volume and
build-cache record, and what each weighs in the engine's measure and on disk.

The engine's answers (``/version``, ``/info``, containers, volumes, the image list) are read once
into :class:`EngineAnswers`; ``layershare free`` and ``layershare disk`` (and the page) build their
:class:`~layershare.model.EngineState` from that one reading. Images and their layers come from the
report's own collection (its cache included). As root on the engine's host the image store's files
say the rest: on the graphdriver store, the layers BuildKit keeps (its ``snapshots.db``) and the
containers' writable layers; on the containerd store, every snapshot and blob with what keeps it
(image records through content labels, containers' snapshots, leases), as containerd's collector
walks them. ``GET /system/df`` is asked only for what the caller needs sized.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from layershare.model import EngineImage, EngineInfo, EngineState, Snapshot, StoredUnit, Volume, version_tuple
from layershare.model.builders import Builder
from layershare.sources.disk.layout import is_log
from layershare.sources.engine import EngineSource
from layershare.sources.engine.builders import BuilderReader
from layershare.sources.engine.cli_api import cli_api_version
from layershare.sources.engine.system_df import system_df
from layershare.sources.holdings.containerd import containerd_units
from layershare.sources.holdings.exported import buildkit_uncertain, exported_note, exported_units
from layershare.sources.holdings.graphdriver import graphdriver_units
from layershare.sources.holdings.items import build_records_from, containers_from, volumes_from
from layershare.sources.holdings.store import EngineStore
from layershare.sources.recording import engine_info_from
from layershare.sources.recording.exported import EXPORTED_NOTE
from layershare.sources.stores.measure import layers_size_rule
from layershare.sources.stores.usage import DiskUsage, engine_measure
from layershare.times import now_iso


@dataclass(frozen=True)
class EngineAnswers:
    """One reading of what the engine says of itself, its containers, volumes and images."""

    engine: EngineInfo
    store: EngineStore
    containers: list[dict[str, Any]]
    volumes: list[dict[str, Any]]
    images: list[dict[str, Any]]

    @property
    def api_at_least_142(self) -> bool:
        """From API 1.42 ``/system/df`` sizes only the types asked for."""
        return version_tuple(self.engine.api_version) >= (1, 42)


class HoldingsReader:
    """Reads what one live engine holds, for ``layershare free`` and ``layershare disk`` (never changes it)."""

    def __init__(self, engine: EngineSource, *, data_root: str | None = None, api_version: str | None = None):
        self.engine = engine
        self.data_root_override = data_root
        self.api_version = api_version
        self.paths: dict[str, tuple[str, ...]] = {}
        self.snapshot: Snapshot | None = None  # the report's collection the last state was built on
        self.data_root: str | None = None  # the data root the last state read files of (None: none)
        self._begun: tuple[ThreadPoolExecutor, Future[tuple[EngineAnswers, Future[Any] | None]]] | None = None

    def answers(self) -> EngineAnswers:
        """The engine's own answers, read once in a run: version, info, containers and images (those
        the engine source reads for its images too), volumes."""
        engine = self.engine
        lists = engine.lists()
        engine_info = engine_info_from(lists["info"], lists["version"], engine.where)
        return EngineAnswers(
            engine=engine_info,
            # Over ssh the engine is another host's: its data root is not this host's folder of that name.
            store=EngineStore(
                lists["info"], self.data_root_override or ("" if engine.over_ssh else engine_info.root_dir)
            ),
            containers=list(lists["containers"] or []),
            volumes=list((engine.get_json("/volumes") or {}).get("Volumes") or []),
            images=list(lists["images"] or []),
        )

    def begin(self, *, with_df: bool) -> None:
        """Ask the engine's lists, then its ``/system/df``, on threads of their own, without waiting: the
        engine answers while this process goes on (``browse`` imports its terminal UI meanwhile).
        :meth:`state` takes the answers; an error comes out there."""
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="layershare-engine")

        def lists() -> tuple[EngineAnswers, Future[Any] | None]:
            answers = self.answers()
            query = self._df_query(answers, with_df)
            return answers, (pool.submit(system_df, self.engine, **query) if query is not None else None)

        self._begun = (pool, pool.submit(lists))

    def _df_query(self, answers: EngineAnswers, with_df: bool) -> dict[str, object] | None:
        """What to ask ``/system/df`` (None: nothing): from API 1.42 the engine sizes only what is asked,
        so not the images, known already."""
        if not (with_df or not answers.store.readable):
            return None
        return {"type": ["container", "volume", "build-cache"]} if answers.api_at_least_142 else {}

    def state(self, *, with_df: bool, cli_api: bool = False, builders: bool = False) -> EngineState:
        """The engine's state; ``with_df`` asks ``/system/df`` for containers', volumes' and build sizes,
        ``cli_api`` finds the API version the user's docker CLI speaks (what ``volume prune`` takes).
        The engine sizes containers, volumes and build cache while the images are collected."""
        if self._begun is None:
            self.begin(with_df=with_df)
        assert self._begun is not None
        pool, begun = self._begun
        self._begun = None
        try:
            answers, df_future = begun.result()
            self.snapshot = self.engine.snapshot()
            df: Mapping[str, Any] = (df_future.result() if df_future is not None else None) or {}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return self.state_from(answers, df, self.snapshot, cli_api=cli_api, builders=builders)

    def state_from(
        self,
        answers: EngineAnswers,
        df: Mapping[str, Any],
        snapshot: Snapshot,
        *,
        cli_api: bool = False,
        readable: bool = True,
        builders: bool = False,
    ) -> EngineState:
        """The state from one reading of the engine's answers, its ``/system/df`` and its images
        (``readable`` False: the data root here is not to be read, e.g. not proved to be this engine's)."""
        store = answers.store
        notes: list[str] = []
        units: dict[str, StoredUnit] = {}
        others: dict[str, tuple[str, ...]] = {}
        images = _images(answers.images)
        records = list(df.get("BuildCache") or [])
        readable = readable and store.readable
        if readable and store.containerd and store.containerd_root is None:
            readable = False
        exported = not readable and store.containerd and EXPORTED_NOTE in snapshot.notes
        self.data_root = store.data_root if readable else None
        uncertain: dict[str, tuple[int, int]] = {}
        if readable and store.containerd:
            holds = containerd_units(store, images, answers.containers, records, units, others, self.paths)
        elif exported:
            rule = layers_size_rule(answers.engine.version)
            holds = exported_units(rule, snapshot, answers.containers, df, units, self.paths)
            uncertain = buildkit_uncertain(rule, snapshot, df, holds, units)
        else:
            holds = graphdriver_units(
                store, snapshot, answers.containers, records, units, others, self.paths, readable
            )
        if exported:
            notes.append(exported_note(uncertain))
        elif not readable:
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
        for c in containers_from(answers.containers, df):
            unit = f"container:{c.id}"
            units[unit] = StoredUnit(unit, "container", c.size_rw_bytes, None)
            self.paths.setdefault(unit, ())
            self.paths[unit] += _log_paths(store.data_root, c.id) if readable else ()
            containers.append(replace(c, holds=(unit, *holds.get(unit, ()))))
        volumes = volumes_from(answers.volumes, containers, df)
        for v in volumes:
            unit = f"volume:{v.name}"
            units[unit] = StoredUnit(unit, "volume", v.bytes or 0, None)
            if readable and v.driver == "local":
                self.paths[unit] = (str(Path(store.data_root, "volumes", v.name)),)
        found = self._builders(answers, volumes, units, readable) if builders else ()
        build = tuple(
            replace(r, holds=holds.get(f"build:{r.id}", ()))
            for r in build_records_from(df, show_values=self.engine.show_values)
        )
        if store.containerd and records and not exported:
            notes.append(
                "on the containerd store the engine sizes a build-cache record with its blobs and "
                "snapshots; the build cache's share of freed_bytes is an estimate there"
            )
        engine_info = answers.engine
        return EngineState(
            engine=engine_info,
            images=state_images,
            containers=tuple(containers),
            volumes=volumes,
            build_cache=build,
            units=units,
            others=others,
            api_version=self.api_version
            or (cli_api_version(engine_info.api_version) if cli_api else engine_info.api_version),
            disk_readable=readable,
            notes=tuple(notes),
            collected_at=now_iso(),
            build_cache_free_bytes=_free_bytes(store.data_root) if readable else None,
            uncertain=uncertain,
            builders=found,
        )

    def _builders(
        self, answers: EngineAnswers, volumes: Iterable[Volume], units: dict[str, StoredUnit], readable: bool
    ) -> tuple[Builder, ...]:
        """The engine's buildx builders, each record a unit of its own (its share of the state volume in
        the engine's measure: its folders and blob as root, else BuildKit's size of it) and the state
        volume's unit the rest (BuildKit's databases)."""
        sizes = {v.name: v.bytes for v in volumes}
        reader = BuilderReader(
            self.engine, files=readable, show_values=self.engine.show_values, store=answers.store
        )
        found = reader.builders(answers.containers, answers.volumes, sizes)
        usage = DiskUsage()
        for b in found:
            parts, parts_disk = 0, 0
            for r in b.records or ():
                key = f"builder:{b.name}/{r.id}"
                paths = tuple(Path(p) for p in b.record_paths.get(r.id, ()))
                size = engine_measure(paths) if paths else max(r.bytes, 0)
                disk = sum(usage.tree(p) for p in paths) if paths else None
                units[key] = StoredUnit(key, "builder_record", size, disk)
                parts += size
                parts_disk += disk or 0
            volume = f"volume:{b.state_volume}"
            whole = self.paths.pop(volume, ())
            rest_disk = (
                sum(usage.tree(Path(p)) for p in whole) - parts_disk if whole and b.record_paths else None
            )
            units[volume] = StoredUnit(
                volume, "builder_state", max((b.volume_bytes or 0) - parts, 0), rest_disk
            )
        return found

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


def _free_bytes(data_root: str) -> int | None:
    """What BuildKit reads as free space under its folder (``disk.GetDiskStat``: Bsize x Bfree)."""
    folder = Path(data_root, "buildkit")
    try:
        found = os.statvfs(folder if folder.is_dir() else data_root)
    except OSError:
        return None
    return found.f_bsize * found.f_bfree


def _log_paths(data_root: str, cid: str) -> tuple[str, ...]:
    folder = Path(data_root, "containers", cid)
    try:
        names = os.listdir(folder)
    except OSError:
        return ()
    return tuple(str(folder / n) for n in names if is_log(cid, n))
