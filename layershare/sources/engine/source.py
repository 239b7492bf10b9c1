"""The Docker Engine source: what a live engine says about its images, read with ``GET`` only.

Every run asks for version and info, the image list with ``all=1`` and the container list; then, for
each image not in the image cache (:mod:`layershare.cache`), what never changes for its ID: from the
engine's own files where they are readable (:mod:`~layershare.sources.engine.local_store`), else
inspect and history over a bounded pool of connections. ``image_content`` streams an image's export.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from layershare.cache import ContentCache, ImageCache, ReportCache, engine_key
from layershare.errors import ArchiveError, EngineAPIError
from layershare.ids import chain_ids
from layershare.model import ImageContent, Snapshot
from layershare.sources.answers import (
    INFO_KEYS,
    RECORDING_SCHEMA,
    VERSION_KEYS,
    Recording,
    content_counted,
    engine_figures_exact,
    image_usage_from,
    manifests,
    trim_summary,
)
from layershare.sources.engine.content import content_blobs
from layershare.sources.engine.contexts import chosen_context, describe_host
from layershare.sources.engine.export import export_image, export_image_plain
from layershare.sources.engine.image_answers import fetch_image, fetch_images
from layershare.sources.engine.local_store import LocalStore, store_readable
from layershare.sources.engine.plain_api import NotFound, PlainAPI, plain_endpoint
from layershare.sources.engine.ssh import ssh_endpoint
from layershare.sources.engine.system_df import system_df
from layershare.sources.interface import ContentSource, StatefulSource
from layershare.sources.recording.normalise import snapshot_from_recording
from layershare.sources.stores.records import Records, listed_from_records, read_records, store_digest
from layershare.times import now_iso

DEFAULT_WORKERS = 8
ANSWERS = ("version", "info", "images", "containers")  # what every run asks first (lists)

Progress = Callable[[int, int], None]


class EngineSource(StatefulSource, ContentSource):
    """A live Docker Engine (or any engine speaking its API) as a source.

    ``host`` is any URL the Docker SDK accepts; None means the environment
    (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``), else the
    docker context (``context``, ``DOCKER_CONTEXT``, the CLI's current one).
    ``show_values`` keeps ENV/LABEL/ARG values in history (off by default).
    ``read_layer_store`` allows the exact fast path when the store is readable.
    ``cache_dir`` keeps each image ID's inspect and history between runs, and
    rendered reports by the engine's state (:mod:`layershare.cache`); None asks
    the engine every time. The cache is not used with ``show_values``:
    unmasked values never go to disk.
    """

    def __init__(
        self,
        host: str | None = None,
        *,
        show_values: bool = False,
        read_layer_store: bool = True,
        workers: int = DEFAULT_WORKERS,
        progress: Progress | None = None,
        cache_dir: Path | None = None,
        context: str | None = None,
    ) -> None:
        self.host = host
        self.show_values = show_values
        self.read_layer_store = read_layer_store
        self.workers = max(1, workers)
        self.progress = progress
        self.cache_dir = cache_dir
        self.context = context
        self._api: Any = None
        self._plain: PlainAPI | Literal[False] | None = None
        self._opening = threading.Lock()
        self._where: str | None = None
        self._answers: dict[str, Any] | None = None
        self._light: dict[str, Any] | None = None  # the answers but the image list (see state_digest)
        self._store_digest: str | None = None
        self._records: Records | None = None  # containerd's records, as the state digest read them
        self._skipped = 0

    def afresh(self) -> EngineSource:
        """The same engine as a new source that has asked nothing yet."""
        keep = ("show_values", "read_layer_store", "workers", "cache_dir", "context")
        return EngineSource(self.host, **{k: getattr(self, k) for k in keep})

    def _client(self) -> Any:
        """The low-level API client, opened once (threads may ask at once) and reused by every call."""
        from layershare.sources.engine.connection import open_api

        plain = self._plain_api()
        known = plain.version if plain is not None else None  # one negotiation for both clients
        with self._opening:
            if self._api is None:
                self._api, self._where = open_api(
                    self.host, context=self.context, pool_size=self.workers, api_version=known
                )
            return self._api

    @property
    def over_ssh(self) -> bool:
        """Whether the engine is reached over ssh: on another host by intent, so none of this host's
        files are read for it (its figures are the engine's answers)."""
        local = self._plain_api()
        return local is not None and local.over_ssh

    def _reads_files(self) -> bool:
        return self.read_layer_store and not self.over_ssh

    @property
    def where(self) -> str:
        """The engine, as messages and reports name it."""
        return self._where or describe_host(self.host)

    def close(self) -> None:
        """Close the connections to the engine (a later call opens them again)."""
        if self._api is not None:
            self._api.close()
            self._api = None
        if self._plain:
            self._plain.close()

    def __enter__(self) -> EngineSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self) -> Snapshot:
        """Fetch everything from the engine and build the model."""
        return snapshot_from_recording(self.record())

    def record(self) -> Recording:
        """Fetch the engine's answers as a recording (see :mod:`layershare.sources.answers`)."""
        if self._plain_api() is not None:  # a socket or plain TCP: no SDK at all
            return self._record(None)
        from layershare.sources.engine.connection import engine_errors

        api = self._client()
        with engine_errors(self.where):
            return self._record(api)

    def lists(self) -> dict[str, Any]:
        """The four answers every run needs fresh, asked once per source (what else reads this engine in
        the same run takes them from here): version, info, images (``all=1``), containers (``all=1``); as
        root on Engine 29.6-29.7's containerd store the image list from containerd's records (the same)."""
        if self._answers is None:  # asked from one thread (collect, disk)
            known = self._light or {}
            if not known and self._reads_files() and os.geteuid() == 0:
                known = self._without_images()  # whether the store can list them is in the info
            if known and (listed := self._records_list(known["info"])) is not None:
                known = {**known, "images": listed}
            self._answers = {**known, **self._ask([k for k in ANSWERS if k not in known])}
        return self._answers

    def _records_list(self, info: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The image list from containerd's records, at an API version that lists manifests (1.47+)."""
        if not self._reads_files():
            return None
        local = self._plain_api()
        spoken = local.version if local is not None else str(self._client().api_version)
        return listed_from_records(info, self._records) if manifests(spoken) is not None else None

    def light_answers(self) -> dict[str, Any]:
        """Version, info and the container list (``all=1``), asked once, without the image list."""
        return self._without_images()

    def _without_images(self) -> dict[str, Any]:
        """Version, info and containers, without the image list (which the engine sizes image by image)."""
        if self._answers is not None:
            return self._answers
        if self._light is None:
            self._light = self._ask([k for k in ANSWERS if k != "images"])
        return self._light

    def _ask(self, keys: list[str]) -> dict[str, Any]:
        if not keys:
            return {}
        local = self._plain_api()
        if local is not None:
            # The API version is negotiated once (local.version), before the answers go out together.
            asks: dict[str, tuple[str, dict[str, int | None]]] = {
                "version": ("/version", {}),
                "info": ("/info", {}),
                "images": ("/images/json", {"all": 1, "manifests": manifests(local.version)}),
                "containers": ("/containers/json", {"all": 1}),
            }
            # Over ssh one connection (one ssh process) answers them one after the other.
            workers = 1 if local.over_ssh else len(keys)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = {k: pool.submit(local.get, asks[k][0], **asks[k][1]) for k in keys}
                return {k: f.result() for k, f in futures.items()}
        from layershare.sources.engine.connection import engine_errors

        api = self._client()
        query = {"all": 1, "manifests": manifests(str(api.api_version))}
        sdk: dict[str, Callable[[], Any]] = {
            "version": api.version,
            "info": api.info,
            "images": lambda: api._result(api._get(api._url("/images/json"), params=query), True),
            "containers": lambda: api.containers(all=True),
        }
        with engine_errors(self.where):
            return {k: sdk[k]() for k in keys}

    def get_json(self, path: str, **params: object) -> Any:
        """One ``GET`` answer as JSON (``/info``, ``/containers/json``, ``/system/df``...); None for a 404.

        A unix socket or plain TCP is asked without the Docker SDK (:mod:`~layershare.sources.engine.plain_api`),
        every other host (TLS, ssh, a context's) through it.
        """
        local = self._plain_api()
        if local is not None:
            try:
                return local.get(path, **params)
            except NotFound:
                return None
        import docker.errors

        from layershare.sources.engine.connection import engine_errors

        api = self._client()
        with engine_errors(self.where):
            try:
                return api._result(api._get(api._url(path), params=params or None), json=True)
            except docker.errors.NotFound:
                return None

    def _plain_api(self) -> PlainAPI | None:
        """The SDK-free client when this engine is a unix socket, plain TCP or ssh (also a docker
        context's ssh endpoint)."""
        with self._opening:
            if self._plain is None:
                self._plain = False
                chosen = None
                if not (self.host or os.environ.get("DOCKER_HOST")):
                    chosen = chosen_context(self.context)
                if chosen is None:
                    endpoint = plain_endpoint(self.host)
                else:  # a context: only its ssh endpoint here (TLS goes through the SDK)
                    endpoint = ssh_endpoint(chosen.host)
                    self._where = f"{chosen.host} (context {chosen.name})"
                if endpoint is not None:
                    self._plain = PlainAPI(endpoint, self.where)
            return self._plain or None

    def report_cache(self) -> ReportCache | None:
        """Where this engine's rendered reports are kept; None without a cache or with ``show_values``."""
        if self.cache_dir is None or self.show_values:
            return None
        return ReportCache(self.cache_dir, engine_key(self._without_images()["info"]))

    @property
    def complete(self) -> bool:
        """False when an image was removed while collecting, or the store's records changed since the
        state digest was taken (such a run is not worth keeping)."""
        if self._store_digest is not None and store_digest(self.lists()["info"]) != self._store_digest:
            return False
        return not self._skipped

    def state_digest(self) -> str:
        """A digest of everything a report depends on; equal digests mean equal reports.

        It covers the engine's version and image store, every image's ID, tags,
        digests, parent, size and creation time, every container's image, and
        whether the layer store can be read. What an image ID's inspect and
        history say is fixed by the ID itself. As root on the containerd store,
        the images are covered by containerd's own records instead
        (:mod:`~layershare.sources.stores.records`), and the engine is not asked
        for its image list, which it sizes image by image.
        """
        answers = self._without_images()
        info = answers["info"]
        readable = self._reads_files() and store_readable(info)
        self._records = read_records(info) if readable and self._answers is None else None
        self._store_digest = self._records.digest if self._records is not None else None
        images = self._store_digest or sorted((trim_summary(s) for s in self.lists()["images"]), key=str)
        state = {
            "host": self.where,
            "version": {k: answers["version"].get(k) for k in VERSION_KEYS},
            "info": {
                k: info.get(k) for k in ("ID", "Driver", "DriverStatus", "DockerRootDir", "ServerVersion")
            },
            "images": images,
            "containers": sorted(str(c.get("ImageID")) for c in answers["containers"]),
            "layer_store": readable,
            "show_values": self.show_values,
        }
        return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()

    def _record(self, api: Any) -> Recording:
        answers = self.lists()
        version, info = answers["version"], answers["info"]
        summaries, containers = answers["images"], answers["containers"]
        ids = [s["Id"] for s in summaries]
        cache = None
        if self.cache_dir is not None and not self.show_values:
            cache = ImageCache(self.cache_dir, engine_key(info))
        cached = cache.load() if cache else {}
        present = set(ids)
        inspects: dict[str, Any] = {}
        histories: dict[str, Any] = {}
        for image_id in ids:
            entry = cached.get(image_id)
            if entry is not None:
                inspects[image_id] = entry["inspect"]
                # A parent the history names may have been removed since: the engine would say <missing>.
                histories[image_id] = [
                    h if h.get("Id") in present else {**h, "Id": "<missing>"} for h in entry["history"]
                ]
        store = LocalStore(info, show_values=self.show_values) if self._reads_files() else None
        content_store = None
        if store is not None and ids:
            content_store = store.content_store(ids)
            found = store.image_answers([i for i in ids if i not in inspects], content_store)
            for image_id, (inspect, history) in found.items():
                inspects[image_id], histories[image_id] = inspect, history
        missing = [i for i in ids if i not in inspects]
        # Without the store's files, the engine's own image figures where they are exact, asked meanwhile;
        # and where the engine counts content blobs, their lengths from its export (read once, then cached).
        exporting = content_store is None and ids and content_counted(version, info) and not self.over_ssh
        exact = content_store is None and not exporting and engine_figures_exact(version, info)
        with ThreadPoolExecutor(max_workers=2) as pool:
            usage = pool.submit(system_df, self, type=["image"]) if exact and ids else None
            exported = pool.submit(self._exported, api, summaries, info) if exporting else None
            notes = fetch_images(self, api, missing, inspects, histories)
            self._skipped += len(notes)
            image_usage = image_usage_from(usage.result() or {}) if usage is not None else None
            export_content, export_notes = exported.result() if exported is not None else (None, [])
        if cache is not None and (missing or len(cached) != len(inspects)):
            cache.save({i: {"inspect": inspects[i], "history": histories[i]} for i in inspects})
        layer_store: dict[str, int] = {}
        if store is not None:
            # Images whose history came from the API need the store's sizes to be exact.
            unflagged = [i for i in inspects if any("EmptyLayer" not in h for h in histories[i])]
            layer_store = store.layer_sizes(
                {c for i in unflagged for c in chain_ids(list(inspects[i]["RootFS"]["Layers"]))}
            )
        return {
            "schema": RECORDING_SCHEMA,
            "host": self.where,
            "collected_at": now_iso(),
            "version": {k: version.get(k) for k in VERSION_KEYS},
            "info": {k: info.get(k) for k in INFO_KEYS},
            "images": [trim_summary(s) for s in summaries],
            "inspect": inspects,
            "history": histories,
            "containers": [{"Id": c.get("Id"), "ImageID": c.get("ImageID")} for c in containers],
            "layer_store": layer_store,
            **({"content_store": content_store} if content_store is not None else {}),
            **({"image_usage": image_usage} if image_usage is not None else {}),
            **({"export_content": export_content} if export_content is not None else {}),
            "notes": notes + export_notes,
        }

    def _exported(
        self, api: Any, summaries: list[dict[str, Any]], info: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """Each image's content blobs from the content cache or the engine's export
        (:mod:`~layershare.sources.engine.content`); an export that fails is a note, and the report
        goes on without the blobs."""
        cache = ContentCache(self.cache_dir, engine_key(info)) if self.cache_dir is not None else None
        cached = cache.load() if cache is not None else {}
        try:
            found, read = content_blobs(self._plain_api(), api, summaries, cached)
        except (EngineAPIError, ArchiveError) as e:
            return None, [f"the engine's export could not be read, so content blobs are not counted: {e}"]
        if cache is not None and (read or len(found) != len(cached)):
            cache.save(found)
        return found, []

    def _fetch_image(self, api: Any, image_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """One image's inspect and history; None where it is gone."""
        return fetch_image(self._plain_api(), api, image_id)

    def image_content(self, image_id: str) -> ImageContent:
        """Stream ``GET /images/{id}/get`` through the archive reader: nothing touches the disk."""
        plain = self._plain_api()
        if plain is not None and plain.over_ssh:
            return export_image_plain(plain, image_id)
        try:
            return export_image(self._client(), image_id, self.where)
        except BaseException:
            self.close()  # a half-read response must not go back to the pool
            raise
