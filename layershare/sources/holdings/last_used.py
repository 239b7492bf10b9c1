"""When images were last used, as the engine says it: each image's ``Metadata.LastTagTime`` (inspect;
on the containerd store it moves on pull and tag too) and each container's start and finish
(``State.StartedAt``, ``State.FinishedAt``). No engine records a use itself (moby#4237): this is what
there is. Asked on two threads per core; an image or container gone meanwhile is left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from layershare.times import unix_time


def last_used_answers(
    engine: Any, image_ids: Iterable[str], container_ids: Iterable[str], data_root: str | None = None
) -> tuple[dict[str, float], dict[str, float]]:
    """(image ID -> when last tagged, container ID -> when last started or finished); 0 where unknown.
    Where ``data_root`` (the engine's, readable here) is given, the store's files say when each image
    was last tagged (:mod:`~layershare.sources.stores.tag_times`): no inspect per image."""
    from layershare.sources.stores.tag_times import tag_times

    image_ids = list(image_ids)
    known = tag_times(engine.light_answers()["info"], data_root, image_ids) if data_root else None
    paths = [("image", i, f"/images/{i}/json") for i in (image_ids if known is None else ())]
    paths += [("container", c, f"/containers/{c}/json") for c in container_ids]
    tagged: dict[str, float] = known if known is not None else {}
    containers: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        answers = pool.map(lambda p: engine.get_json(p[2]), paths)
        for (kind, ident, _), answer in zip(paths, answers, strict=True):
            if not isinstance(answer, dict):
                continue
            if kind == "image":
                tagged[ident] = float(max(unix_time((answer.get("Metadata") or {}).get("LastTagTime")), 0))
            else:  # Go's zero time (never started) is before the epoch: unknown
                state = answer.get("State") or {}
                times = (unix_time(state.get("StartedAt")), unix_time(state.get("FinishedAt")), 0)
                containers[ident] = float(max(times))
    return tagged, containers
