"""The image list from ``GET /system/df?type=image``, where it can serve: one sizing pass, not two.

On Engine 29.6 and later with the containerd store the engine sizes every image whenever it lists it,
and a reader who cannot open the engine's files (the ``docker`` group) needs ``/system/df?type=image``
anyway, for ``LayersSize`` and each image's SHARED SIZE. Its items are the same summaries as
``GET /images/json`` (moby's ``disk_usage.go`` lists them with the same ``Images`` call) but for two
things: the classic builder's intermediate images are not there, and neither is each image's list of
manifests. The first comes from ``/images/json?all=1&filters={"dangling":["true"]}``, which sizes only
untagged images; the second from each image's inspect with ``manifests=1`` (API 1.48 and later), which
a cold run asks anyway. Together they are what ``/images/json?all=1&manifests=1`` answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from layershare.model import version_tuple
from layershare.sources.answers import engine_figures_exact, manifests
from layershare.sources.engine.system_df import system_df

# From this API version an image's inspect lists its manifests (``manifests=1``).
API_INSPECT_MANIFESTS = (1, 48)


class _Asks(Protocol):
    @property
    def where(self) -> str: ...

    def get_json(self, path: str, **params: object) -> Any: ...


def df_can_list(version: Mapping[str, Any], info: Mapping[str, Any], api_version: str) -> bool:
    """Whether the image list is taken from ``/system/df``: the engine's figures are exact there (so the
    answer is needed anyway) and an inspect gives the manifests the df items leave out."""
    return engine_figures_exact(version, info) and version_tuple(api_version) >= API_INSPECT_MANIFESTS


def images_from_df(engine: _Asks) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the image list, the ``/system/df?type=image`` answer it came from): the df items, and every
    untagged image (intermediates too) from a list of the dangling ones, with its manifests."""
    dangling = json.dumps({"dangling": ["true"]})
    with ThreadPoolExecutor(max_workers=2) as pool:
        df = pool.submit(system_df, engine, type=["image"])
        untagged = pool.submit(engine.get_json, "/images/json", all=1, manifests=1, filters=dangling)
        answer, hidden = df.result(), untagged.result() or []
    usage = answer.get("ImageUsage") or {}
    items = answer.get("Images") or usage.get("Items") or []
    listed: dict[str, dict[str, Any]] = {str(s["Id"]): dict(s) for s in items}
    for summary in hidden:
        listed[str(summary["Id"])] = {**listed.get(str(summary["Id"]), {}), **summary}
    return list(listed.values()), answer


def inspect_query(api_version: str) -> dict[str, int]:
    """The query of an image's inspect: ``manifests=1`` where the API lists them."""
    return (
        {"manifests": 1}
        if manifests(api_version) and version_tuple(api_version) >= API_INSPECT_MANIFESTS
        else {}
    )


def with_manifests(
    summaries: list[dict[str, Any]], inspects: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The summaries, each that lists no manifests given its inspect's (as ``/images/json?manifests=1``
    would list them)."""
    found = []
    for summary in summaries:
        listed = inspects.get(str(summary.get("Id")), {}).get("Manifests")
        if "Manifests" not in summary and isinstance(listed, list):
            summary = {**summary, "Manifests": listed}
        found.append(summary)
    return found
