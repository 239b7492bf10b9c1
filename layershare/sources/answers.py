"""The engine's answers as layershare keeps them: the recording format every source speaks.

A recording (``layershare record``) is the engine's own answers, trimmed:
``GET /version`` and ``/info`` (the keys below), the image list, each image's
inspect and history, the containers, and the layer store's sizes. The engine
source writes it, the image stores fill in the same shapes from the engine's
files, and :mod:`layershare.sources.recording` turns it into the model. What
is trimmed here (environment values, labels other than the OCI ones, build
arguments in instructions) never reaches a cache, a recording or a report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layershare.ids import chain_ids
from layershare.model import OCI_LABEL_PREFIX, version_tuple
from layershare.redact import redact_created_by
from layershare.sources.stores.measure import counts_as_engine, layers_size_rule
from layershare.times import unix_time

RECORDING_SCHEMA = "layershare.recording/v1"
# What a recording keeps of each image summary, of GET /version and of GET /info.
SUMMARY_KEYS = ("Id", "ParentId", "RepoTags", "RepoDigests", "Size", "Created")
VERSION_KEYS = ("Version", "ApiVersion", "Os", "Arch")
INFO_KEYS = ("ServerVersion", "Driver", "DriverStatus", "OSType", "Architecture", "DockerRootDir")

Recording = dict[str, Any]
API_MANIFESTS = (1, 47)  # from this API version ``GET /images/json?manifests=1`` lists each image's manifests


def manifests(api_version: str) -> int | None:
    """``manifests=1`` for ``GET /images/json`` where the API has it (None: leave it out)."""
    return 1 if version_tuple(api_version) >= API_MANIFESTS else None


def trim_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """What a recording keeps of an image summary: :data:`SUMMARY_KEYS`, and of each manifest (the
    containerd store, API 1.47+) its kind, whether it is available and its sizes."""
    kept = {k: summary.get(k) for k in SUMMARY_KEYS}
    manifests = summary.get("Manifests")
    if isinstance(manifests, list):
        kept["Manifests"] = [
            {
                "ID": m.get("ID"),
                "Kind": m.get("Kind"),
                "Available": bool(m.get("Available")),
                "Size": {k: (m.get("Size") or {}).get(k) for k in ("Content", "Total")},
            }
            for m in manifests
            if isinstance(m, Mapping)
        ]
    return kept


def content_size(summary: Mapping[str, Any]) -> int | None:
    """CONTENT SIZE of ``docker image ls`` (CLI 29, containerd store): the content of the image's
    manifests that are available here (``Size.Content`` of each: manifest, config, layer blobs); None
    where the engine lists no manifests (a graphdriver store, or an API before 1.47)."""
    manifests = summary.get("Manifests")
    if not isinstance(manifests, list) or not manifests:
        return None
    return sum(int((m.get("Size") or {}).get("Content") or 0) for m in manifests if m.get("Available"))


def is_containerd_store(info: Mapping[str, Any]) -> bool:
    """Whether ``GET /info`` describes the containerd image store (not a graphdriver)."""
    status = {str(k): str(v) for k, v in (info.get("DriverStatus") or [])}
    return status.get("driver-type") == "io.containerd.snapshotter.v1"


def trim_inspect(inspect: Mapping[str, Any]) -> dict[str, Any]:
    """Keep what the model needs; environment and non-OCI label values are dropped here."""
    labels = (inspect.get("Config") or {}).get("Labels") or {}
    return {
        "Id": inspect.get("Id"),
        "Created": inspect.get("Created"),
        "RootFS": {"Layers": list((inspect.get("RootFS") or {}).get("Layers") or [])},
        "Config": {"Labels": {k: v for k, v in labels.items() if k.startswith(OCI_LABEL_PREFIX)}},
    }


def trim_history(entry: Mapping[str, Any], *, show_values: bool) -> dict[str, Any]:
    """One history entry as kept: its instruction masked unless ``show_values``."""
    created_by = str(entry.get("CreatedBy") or "")
    trimmed = {
        "Id": entry.get("Id"),
        "Created": entry.get("Created"),
        "CreatedBy": created_by if show_values else redact_created_by(created_by),
        "Size": entry.get("Size"),
        "Comment": entry.get("Comment"),
    }
    if "EmptyLayer" in entry:
        trimmed["EmptyLayer"] = bool(entry["EmptyLayer"])
    return trimmed


def answers_from_config(
    image_id: str, config: Mapping[str, Any], sizes: Mapping[str, int]
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The inspect and history answers an image's configuration gives, in the API's shape.

    ``sizes`` maps chain IDs to stored bytes. None when a layer's size is not
    there or the history does not fit the layers.
    """
    diff_ids = list(config["rootfs"]["diff_ids"])
    layer_sizes = [sizes.get(c) for c in chain_ids(diff_ids)]
    raw = config.get("history") or []
    if any(s is None for s in layer_sizes) or sum(1 for h in raw if not h.get("empty_layer")) != len(
        diff_ids
    ):
        return None
    remaining = iter(layer_sizes)
    history = [
        {
            "Created": unix_time(h.get("created")),
            "CreatedBy": str(h.get("created_by") or ""),
            "Size": 0 if h.get("empty_layer") else next(remaining),
            "Comment": str(h.get("comment") or ""),
            "EmptyLayer": bool(h.get("empty_layer")),
        }
        for h in raw
    ]
    newest_first = list(reversed(history))
    for n, entry in enumerate(newest_first):
        entry["Id"] = image_id if n == 0 else "<missing>"
    inspect = {
        "Id": image_id,
        "Created": config.get("created"),
        "RootFS": {"Layers": diff_ids},
        "Config": {"Labels": (config.get("config") or {}).get("Labels") or {}},
    }
    return trim_inspect(inspect), newest_first


def image_usage_from(df: Mapping[str, Any]) -> dict[str, Any] | None:
    """``GET /system/df?type=image`` as a recording keeps it: ``LayersSize`` and each image's
    ``SharedSize`` (the legacy keys, or API 1.52's ``ImageUsage``); None when the engine gives no total."""
    usage = df.get("ImageUsage") or {}
    total = df.get("LayersSize", usage.get("TotalSize"))
    if total is None:
        return None
    images = df.get("Images") or usage.get("Items") or []
    shared = {str(i["Id"]): int(i["SharedSize"]) for i in images if int(i.get("SharedSize", -1)) >= 0}
    return {"LayersSize": int(total), "SharedSize": shared}


def content_counted(version: Mapping[str, Any], info: Mapping[str, Any]) -> bool:
    """Whether the engine counts content blobs in ``LayersSize`` and in what a removal frees: the
    containerd store of Engine 28.2 and later (:func:`~layershare.sources.stores.measure.layers_size_rule`)."""
    return (
        is_containerd_store(info) and layers_size_rule(str(version.get("Version") or "")) != "all_snapshots"
    )


def engine_figures_exact(version: Mapping[str, Any], info: Mapping[str, Any]) -> bool:
    """Whether the engine's own image figures (``LayersSize``, SIZE, SHARED SIZE) are exact: Engine 29.6
    and later on the containerd store (:mod:`layershare.sources.stores.measure`)."""
    return is_containerd_store(info) and counts_as_engine(str(version.get("Version") or ""))
