"""Each image's inspect and history from the engine, for the images the cache and the engine's files
did not give: over up to two connections per core for a local engine (it shares them with us), two ssh
processes for an engine over ssh, ``workers`` connections for another remote one; TLS hosts through
the SDK's pool."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from layershare.ids import short_id
from layershare.sources.answers import trim_history, trim_inspect
from layershare.sources.engine.plain_api import NotFound, PlainAPI
from layershare.sources.engine.ssh import SSH_WORKERS

# Threads asking a local engine: it shares this machine's cores, and more threads only queue (measured).
LOCAL_WORKERS = min(8, 2 * (os.cpu_count() or 1))


class _Engine(Protocol):
    workers: int
    show_values: bool
    progress: Callable[[int, int], None] | None

    def _plain_api(self) -> PlainAPI | None: ...

    def _fetch_image(self, api: Any, image_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None: ...


def fetch_images(
    engine: _Engine, api: Any, missing: list[str], inspects: dict[str, Any], histories: dict[str, Any]
) -> list[str]:
    """Ask for the inspect and history of each image in ``missing``, trimmed into ``inspects`` and
    ``histories``; a note for each image removed meanwhile (skipped)."""
    notes: list[str] = []
    if not missing:
        return notes
    local = engine._plain_api()
    # A local engine shares this machine's cores; a remote one is waited on, not computed with.
    workers = engine.workers
    if local is not None and isinstance(local.endpoint, str):
        workers = min(engine.workers, LOCAL_WORKERS)
    elif local is not None and local.over_ssh:
        workers = min(engine.workers, SSH_WORKERS)  # each holds an ssh process

    def fetch(image_id: str) -> tuple[str, dict[str, Any] | None, list[dict[str, Any]] | None]:
        found = engine._fetch_image(api, image_id)
        return (image_id, *found) if found is not None else (image_id, None, None)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, (image_id, inspect, history) in enumerate(pool.map(fetch, missing), 1):
            if inspect is None or history is None:
                notes.append(f"image {short_id(image_id)} was removed while collecting; skipped")
            else:
                inspects[image_id] = trim_inspect(inspect)
                histories[image_id] = [trim_history(h, show_values=engine.show_values) for h in history]
            if engine.progress:
                engine.progress(done, len(missing))
    return notes


def fetch_image(
    local: PlainAPI | None, api: Any, image_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """Inspect and history (without the SDK where the engine is a plain endpoint); None: gone."""
    if local is not None:
        try:
            return local.get(f"/images/{image_id}/json"), local.get(f"/images/{image_id}/history")
        except NotFound:
            return None
    import docker.errors

    try:
        return api.inspect_image(image_id), api.history(image_id)
    except docker.errors.NotFound:
        return None
