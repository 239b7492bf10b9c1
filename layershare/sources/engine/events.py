"""The engine's events that say an image was used (``GET /events``): pulled, loaded, imported, tagged,
built, or a container of it created, started, stopped or removed. No engine records a use itself
(moby#4237) and its event buffer holds the last 256 only, in memory: ``plan`` and its keeper read the
events since the last read into a journal in the cache folder (:class:`~layershare.cache.UseJournal`).

The events are asked for a window that ends now (``since`` and ``until``), so the answer ends; the
keeper asks every few seconds. Only ``GET``: reading events changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from layershare.sources.engine.plain_api import NotFound

IMAGE_ACTIONS = frozenset({"pull", "load", "import", "tag", "commit", "create"})
CONTAINER_ACTIONS = frozenset({"create", "start", "die", "stop", "destroy", "exec_start"})
FILTERS = json.dumps({"type": ["image", "container"]})


def read_events(engine: Any, since: float, until: float) -> list[dict[str, Any]]:
    """The engine's image and container events between ``since`` and ``until`` (seconds)."""
    params = {"since": f"{since:.9f}", "until": f"{until:.9f}", "filters": FILTERS}
    plain = engine._plain_api()
    if plain is not None:
        from urllib.parse import urlencode

        try:
            body = b"".join(plain.stream(f"/events?{urlencode(params)}"))
        except NotFound:
            return []
        return _lines(body)
    api = engine._client()
    from layershare.sources.engine.connection import engine_errors

    with engine_errors(engine.where):
        found: list[dict[str, Any]] = list(
            api.events(since=since, until=until, filters={"type": ["image", "container"]}, decode=True)
        )
    return found


def _lines(body: bytes) -> list[dict[str, Any]]:
    found = []
    for line in body.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            found.append(event)
    return found


def uses(events: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """What each event says was used, and when: image ID or reference -> the newest time (seconds)."""
    found: dict[str, float] = {}
    for event in events:
        kind, action = str(event.get("Type") or ""), str(event.get("Action") or "").split(":", 1)[0]
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {}
        when = int(event.get("timeNano") or 0) / 1e9 or float(event.get("time") or 0)
        names: list[str] = []
        if kind == "image" and action in IMAGE_ACTIONS:
            names = [str(actor.get("ID") or ""), str(attributes.get("name") or "")]
        elif kind == "container" and action in CONTAINER_ACTIONS:
            names = [str(attributes.get("image") or "")]
        for name in filter(None, names):
            found[name] = max(found.get(name, 0.0), when)
    return found
