"""Each stored layer's files kept by diff ID: a layer never changes, so a warm ``dupes`` reads no layer.

One file per diff ID under the cache folder (``dupes/<how>/<diff hex>``, written with
:func:`~layershare.cache.write_checked`: a header with the payload's sha256, renamed into place): the
stored copies with their digests, where known (a copy whose length no other copy shared was not read;
it is read once another copy comes to share it). ``how`` keeps apart what was read in different ways:
one engine's folders (owners as that engine's store keeps them), or tars (exports and archives).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from layershare.cache import read_checked, write_checked
from layershare.model import StoredCopy

LAYER_FILES_SCHEMA = "layershare.layer-files/v2"


class LayerFilesCache:
    """The stored copies of layers read before, by diff ID (``folder`` None: nothing kept)."""

    def __init__(self, folder: Path | None, how: str) -> None:
        self.folder = folder / "dupes" / how if folder is not None else None

    def _path(self, diff_id: str) -> Path | None:
        hexa = diff_id.removeprefix("sha256:")
        if self.folder is None or len(hexa) != 64 or not all(c in "0123456789abcdef" for c in hexa):
            return None
        return self.folder / hexa

    def get(self, diff_id: str) -> tuple[StoredCopy, ...] | None:
        path = self._path(diff_id)
        payload = read_checked(path, schema=LAYER_FILES_SCHEMA, diff_id=diff_id) if path else None
        if payload is None:
            return None
        try:
            return tuple(
                StoredCopy(p, int(s), int(m), int(u), int(g), d, c)
                for p, s, m, u, g, d, c in json.loads(payload)
            )
        except (ValueError, TypeError):
            return None

    def put(self, diff_id: str, copies: Sequence[StoredCopy]) -> None:
        path = self._path(diff_id)
        if path is None:
            return
        payload = json.dumps(
            [[c.path, c.size, c.mode, c.uid, c.gid, c.digest, c.crc64] for c in copies], separators=(",", ":")
        )
        write_checked(path, {"schema": LAYER_FILES_SCHEMA, "diff_id": diff_id}, payload.encode())
