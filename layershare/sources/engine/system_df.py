"""``GET /system/df``, asked again when the engine's own walk races a change.

An engine counts its disk use by walking its images, containers, snapshots and build cache; an object
that goes away meanwhile (BuildKit drops a ``-view`` snapshot seconds after a build, on Engine 28.5's
containerd store) makes it answer 404 for the whole request. The answer is asked again a few times;
only a 404 every time is an error, never an empty answer taken as "nothing to count".
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from layershare.errors import EngineAPIError

ATTEMPTS = 5


class _Asks(Protocol):
    @property
    def where(self) -> str: ...

    def get_json(self, path: str, **params: object) -> Any: ...


def system_df(engine: _Asks, **query: object) -> dict[str, Any]:
    """The engine's ``/system/df`` answer for ``query``; EngineAPIError if it keeps answering 404."""
    for attempt in range(ATTEMPTS):
        found = engine.get_json("/system/df", **query)
        if isinstance(found, dict):
            return found
        time.sleep(0.2 * (attempt + 1))
    raise EngineAPIError(
        f"{engine.where}: GET /system/df answered 404 {ATTEMPTS} times (something it was counting went "
        "away meanwhile); run layershare again once the engine is quiet"
    )
