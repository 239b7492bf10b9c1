"""The Docker Engine source: the only module that imports the Docker SDK.

It asks the engine read-only questions (``GET`` only): version and info, the
image list with ``all=1`` and the container list, every run; then, for each
image not in the cache (:mod:`layershare.sources.cache`), what never changes
for its ID. Where the engine's files are readable (root on its host), that
comes from the image store itself (:mod:`~layershare.sources.graphdriver_store`,
:mod:`~layershare.sources.containerd_store`): exact and without a request;
elsewhere from inspect and history, over a bounded pool of connections.
``image_content`` streams an image's export for the content rules.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from layershare.chain import chain_ids
from layershare.errors import (
    ArchiveError,
    EngineAPIError,
    EnginePermissionDenied,
    EngineUnreachable,
    ImageNotFound,
    SourceError,
)
from layershare.model import ImageContent, Snapshot
from layershare.redact import redact_created_by
from layershare.sources.archive import ChunkReader, read_archive
from layershare.sources.cache import ImageCache, ReportCache, engine_key
from layershare.sources.containerd_store import find_store, read_config, read_store
from layershare.sources.docker_contexts import DockerContext, current_context_name, load_context
from layershare.sources.graphdriver_store import (
    answers_from_config,
    is_containerd,
    layer_store_readable,
    read_layer_sizes,
    store_dir,
    trim_inspect,
)
from layershare.sources.interface import ContentSource, Source
from layershare.sources.recording import (
    RECORDING_SCHEMA,
    Recording,
    now_iso,
    snapshot_from_recording,
)

DEFAULT_WORKERS = 8
# What a run keeps of each image summary and of GET /version (the recording and the state digest).
_SUMMARY_KEYS = ("Id", "ParentId", "RepoTags", "RepoDigests", "Size", "Created")
_VERSION_KEYS = ("Version", "ApiVersion", "Os", "Arch")
EXPORT_CHUNK = 1 << 18

Progress = Callable[[int, int], None]


def _describe_host(host: str | None) -> str:
    return host or os.environ.get("DOCKER_HOST") or "the default Docker socket"


def _connection_error(host: str, e: BaseException) -> SourceError:
    text = str(e)
    if "Permission denied" in text or isinstance(e, PermissionError):
        return EnginePermissionDenied(
            f"permission denied opening the Docker socket at {host}: run as a member of the "
            "'docker' group, or as root, or point DOCKER_HOST at an engine you may use"
        )
    return EngineUnreachable(
        f"cannot reach a Docker engine at {host}: is dockerd running? "
        "Set DOCKER_HOST or --host to the engine's address"
    )


class EngineSource(Source, ContentSource):
    """A live Docker Engine (or any engine speaking its API) as a source.

    ``host`` is any URL the Docker SDK accepts; None means the environment
    (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``).
    ``show_values`` keeps ENV/LABEL/ARG values in history (off by default).
    ``read_layer_store`` allows the exact fast path when the store is readable.
    ``cache_dir`` keeps each image ID's inspect and history between runs
    (:mod:`layershare.sources.cache`); None asks the engine every time. The
    cache is not used with ``show_values``: unmasked values never go to disk.
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
        self.host_label: str | None = None
        self._api: Any = None
        self._answers: dict[str, Any] | None = None
        self._store_sizes: dict[str, int] = {}
        self._skipped = 0

    def _client(self) -> Any:
        """The low-level API client, opened once and reused by every call of this source."""
        if self._api is not None:
            return self._api
        where = _describe_host(self.host)
        try:
            if self.host:  # as from DOCKER_HOST: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH apply
                options = docker.utils.kwargs_from_env(environment={**os.environ, "DOCKER_HOST": self.host})
            elif not os.environ.get("DOCKER_HOST") and (context := self._context()) is not None:
                options = {"base_url": context.host}
                if context.host.startswith("tcp://") and (context.ca_cert or context.client_cert):
                    options["tls"] = docker.tls.TLSConfig(
                        client_cert=context.client_cert,
                        ca_cert=context.ca_cert,
                        verify=not context.skip_tls_verify,
                    )
            else:
                options = docker.utils.kwargs_from_env()
            base_url = str(options.get("base_url") or "")
            api = docker.APIClient(
                **options,
                version=docker.constants.MINIMUM_DOCKER_API_VERSION,
                use_ssh_client=base_url.startswith("ssh://"),
                max_pool_size=self.workers,
            )
            if options.get("tls"):
                # requests would let REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace the engine's own CA.
                api.trust_env = False
            # The SDK's version="auto", after the line above: use the version the engine speaks.
            api._version = api.version(api_version=False)["ApiVersion"]
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise _connection_error(where, e) from e
        self._api = api
        return self._api

    @property
    def where(self) -> str:
        """The engine, as messages and reports name it."""
        return self.host_label or _describe_host(self.host)

    def _context(self) -> DockerContext | None:
        """The docker context to use (``context``, ``DOCKER_CONTEXT``, the CLI's current one), or None
        for the default (``DOCKER_HOST`` or the local socket), as the docker CLI decides."""
        name = self.context or current_context_name()
        context = load_context(name) if name else None
        if context is not None:
            self.host_label = f"{context.host} (context {context.name})"
        return context

    def close(self) -> None:
        """Close the connections to the engine (a later call opens them again)."""
        if self._api is not None:
            self._api.close()
            self._api = None

    def __enter__(self) -> EngineSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def snapshot(self) -> Snapshot:
        """Fetch everything from the engine and build the model."""
        return snapshot_from_recording(self.record())

    def record(self) -> Recording:
        """Fetch the engine's answers as a recording (see :mod:`layershare.sources.recording`)."""
        recording: Recording = self._guarded(self._record)
        return recording

    def _guarded(self, call: Callable[[Any, str], Any]) -> Any:
        """Run ``call(api, where)``, turning the SDK's errors into layershare's."""
        api = self._client()
        where = self.where
        try:
            return call(api, where)
        except docker.errors.APIError as e:
            raise EngineAPIError(f"the engine at {where} answered an error: {e.explanation or e}") from e
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
            raise _connection_error(where, e) from e

    def _lists(self, api: Any) -> dict[str, Any]:
        """The four answers every run needs fresh (asked once per source): version, info, images, containers."""
        if self._answers is None:
            self._answers = {
                "version": api.version(),
                "info": api.info(),
                "images": api.images(all=True),
                "containers": api.containers(all=True),
            }
        return self._answers

    def report_cache(self) -> ReportCache | None:
        """Where this engine's rendered reports are kept; None without a cache or with ``show_values``."""
        if self.cache_dir is None or self.show_values:
            return None
        info = self._guarded(lambda api, where: self._lists(api)["info"])
        return ReportCache(self.cache_dir, engine_key(info))

    @property
    def complete(self) -> bool:
        """False when an image was removed while collecting (such a run is not worth keeping)."""
        return not self._skipped

    def state_digest(self) -> str:
        """A digest of everything a report depends on; equal digests mean equal reports.

        It covers the engine's version and image store, every image's ID, tags,
        digests, parent, size and creation time, every container's image, and
        whether the layer store can be read. What an image ID's inspect and
        history say is fixed by the ID itself.
        """

        def digest(api: Any, where: str) -> str:
            answers = self._lists(api)
            info = answers["info"]
            state = {
                "host": where,
                "version": {k: answers["version"].get(k) for k in _VERSION_KEYS},
                "info": {
                    k: info.get(k) for k in ("ID", "Driver", "DriverStatus", "DockerRootDir", "ServerVersion")
                },
                "images": sorted(([s.get(k) for k in _SUMMARY_KEYS] for s in answers["images"]), key=str),
                "containers": sorted(str(c.get("ImageID")) for c in answers["containers"]),
                "layer_store": self.read_layer_store and layer_store_readable(info),
                "show_values": self.show_values,
            }
            return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()

        result: str = self._guarded(digest)
        return result

    def _record(self, api: Any, where: str) -> Recording:
        answers = self._lists(api)
        version, info = answers["version"], answers["info"]
        summaries, containers = answers["images"], answers["containers"]
        notes: list[str] = []

        def fetch(image_id: str) -> tuple[str, dict[str, Any] | None, list[dict[str, Any]] | None]:
            try:
                inspect, history = self._fetch_image(api, image_id)
                return image_id, inspect, history
            except docker.errors.NotFound:
                return image_id, None, None

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
        content_store = None
        if self.read_layer_store and ids:
            content_store = read_store(info, ids) if is_containerd(info) else None
            self._read_configs(
                info, [i for i in ids if i not in inspects], inspects, histories, content_store
            )
        missing = [i for i in ids if i not in inspects]
        if missing:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                for done, (image_id, inspect, history) in enumerate(pool.map(fetch, missing), 1):
                    if inspect is None or history is None:
                        self._skipped += 1
                        notes.append(f"image {image_id[7:19]} was removed while collecting; skipped")
                    else:
                        inspects[image_id] = trim_inspect(inspect)
                        histories[image_id] = [self._trim_history(h) for h in history]
                    if self.progress:
                        self.progress(done, len(missing))
        if cache is not None and (missing or len(cached) != len(inspects)):
            cache.save({i: {"inspect": inspects[i], "history": histories[i]} for i in inspects})
        layer_store: dict[str, int] = {}
        if self.read_layer_store and not is_containerd(info):
            # Images whose history came from the API need the store's sizes to be exact.
            unflagged = [i for i in inspects if any("EmptyLayer" not in h for h in histories[i])]
            chains = {c for i in unflagged for c in chain_ids(list(inspects[i]["RootFS"]["Layers"]))}
            layer_store = self._layer_sizes(info, chains)
        return {
            "schema": RECORDING_SCHEMA,
            "host": where,
            "collected_at": now_iso(),
            "version": {k: version.get(k) for k in _VERSION_KEYS},
            "info": {
                k: info.get(k)
                for k in (
                    "ServerVersion",
                    "Driver",
                    "DriverStatus",
                    "OSType",
                    "Architecture",
                    "DockerRootDir",
                )
            },
            "images": [{k: s.get(k) for k in _SUMMARY_KEYS} for s in summaries],
            "inspect": inspects,
            "history": histories,
            "containers": [{"Id": c.get("Id"), "ImageID": c.get("ImageID")} for c in containers],
            "layer_store": layer_store,
            **({"content_store": content_store} if content_store is not None else {}),
            "notes": notes,
        }

    def image_content(self, image_id: str) -> ImageContent:
        """Stream ``GET /images/{id}/get`` through the archive reader: nothing touches the disk."""
        try:
            return self._export(self._client(), image_id)
        except BaseException:
            self.close()  # a half-read response must not go back to the pool
            raise

    def _export(self, api: Any, image_id: str) -> ImageContent:
        where = self.where
        short = image_id.removeprefix("sha256:")[:12]
        try:
            chunks = api.get_image(image_id, chunk_size=EXPORT_CHUNK)
            stream = io.BufferedReader(ChunkReader(chunks), EXPORT_CHUNK)
            contents = read_archive(stream, name=f"export of image {short}")
        except docker.errors.NotFound as e:
            raise ImageNotFound(f"image {short} is no longer on the engine at {where}") from e
        except docker.errors.APIError as e:
            if not self._exists(api, image_id):  # Engine 20.10 answers 500, not 404, for a removed image
                raise ImageNotFound(f"image {short} is no longer on the engine at {where}") from e
            raise EngineAPIError(
                f"the engine at {where} could not export image {short}: {e.explanation or e}"
            ) from e
        except (requests.exceptions.ChunkedEncodingError, urllib3.exceptions.HTTPError) as e:
            raise ArchiveError(f"the export of image {short} from {where} was cut off ({e})") from e
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
            raise _connection_error(where, e) from e
        if len(contents) != 1:
            raise ArchiveError(f"the export of image {short} holds {len(contents)} images, not one")
        return contents[0]

    @staticmethod
    def _exists(api: Any, image_id: str) -> bool:
        try:
            api.inspect_image(image_id)
        except docker.errors.NotFound:
            return False
        return True

    def _fetch_image(self, api: Any, image_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The two per-image calls: inspect and history (``docker.errors.NotFound`` if gone)."""
        return api.inspect_image(image_id), api.history(image_id)

    def _trim_history(self, h: Mapping[str, Any]) -> dict[str, Any]:
        created_by = str(h.get("CreatedBy") or "")
        trimmed = {
            "Id": h.get("Id"),
            "Created": h.get("Created"),
            "CreatedBy": created_by if self.show_values else redact_created_by(created_by),
            "Size": h.get("Size"),
            "Comment": h.get("Comment"),
        }
        if "EmptyLayer" in h:
            trimmed["EmptyLayer"] = bool(h["EmptyLayer"])
        return trimmed

    def _read_configs(
        self,
        info: Mapping[str, Any],
        ids: list[str],
        inspects: dict[str, Any],
        histories: dict[str, Any],
        content_store: Mapping[str, Any] | None,
    ) -> None:
        """Fill in images from the engine's own files (image configs and layer sizes) where readable.

        Exact and cheap: the configuration says which history entries made layers,
        and the layer store (or the containerd snapshots) gives each layer's size.
        An image whose files are missing or do not fit is left for the API.
        """
        imagedb = store_dir(info, "imagedb", "content", "sha256")
        containerd_root = find_store(info) if content_store is not None else None
        if containerd_root is None and (imagedb is None or not os.access(imagedb, os.R_OK | os.X_OK)):
            return
        for image_id in ids:
            try:
                if content_store is not None and containerd_root is not None:
                    config = read_config(containerd_root, image_id, str(info.get("Architecture") or ""))
                    sizes = content_store["snapshots"]
                else:
                    assert imagedb is not None
                    config = json.loads((imagedb / image_id.removeprefix("sha256:")).read_bytes())
                    sizes = self._layer_sizes(info, chain_ids(list(config["rootfs"]["diff_ids"])))
                if config is None:
                    continue
                answers = answers_from_config(image_id, config, sizes)
            except (OSError, ValueError, TypeError, AttributeError, KeyError):
                continue
            if answers is not None:
                inspects[image_id] = answers[0]
                histories[image_id] = [self._trim_history(h) for h in answers[1]]

    def _layer_sizes(self, info: Mapping[str, Any], chains: Iterable[str]) -> dict[str, int]:
        """Sizes of these chain IDs from the layer store (each file read once per run)."""
        wanted = [c for c in chains if c not in self._store_sizes]
        self._store_sizes.update(read_layer_sizes(info, wanted))
        return self._store_sizes
