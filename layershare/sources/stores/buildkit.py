"""BuildKit's own files under a data root, read-only: its cache records (``metadata_v2.db``) and, on the
graphdriver store, moby's snapshot adapter (``snapshots.db``). A file that cannot be read gives nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layershare.sources.stores.boltdb import BoltError, BoltFile


def snapshots(path: Path) -> dict[str, dict[str, str]]:
    """BuildKit's snapshot records in moby's graphdriver adapter (``snapshots.db``): key -> its fields
    (``chainid`` of a layer of the layer store, ``committed`` folder, ``parent``)."""
    try:
        tree: Any = BoltFile.open(path).tree()
    except (OSError, BoltError):
        return {}
    found: dict[str, dict[str, str]] = {}
    for key, record in tree.items() if isinstance(tree, dict) else ():
        if isinstance(record, dict):
            found[key.decode(errors="replace")] = {
                name.decode(errors="replace"): value.decode(errors="replace")
                for name, value in record.items()
                if isinstance(value, bytes)
            }
    return found


@dataclass(frozen=True)
class Record:
    """What BuildKit's metadata says of one cache record."""

    size: int
    chain: str
    blob: str
    parent: str


def records(path: Path) -> dict[str, Record]:
    """BuildKit's live cache records (its ``metadata_v2.db``, bucket ``_main``): the size it recorded
    (what ``/system/df`` lists), the chain ID and blob of its layer if it is one, its parent record."""
    try:
        tree: Any = BoltFile.open(path).tree()
        main = tree[b"_main"]
    except (OSError, BoltError, KeyError, TypeError):
        return {}
    found: dict[str, Record] = {}
    for key, fields in main.items() if isinstance(main, dict) else ():
        values = []
        for name in (b"snapshot.size", b"cache.chainID", b"cache.blob", b"cache.parent"):
            raw = fields.get(name) if isinstance(fields, dict) else None
            try:
                values.append(json.loads(raw).get("value") if isinstance(raw, bytes) and raw else None)
            except (ValueError, AttributeError):
                values.append(None)
        found[key.decode(errors="replace")] = Record(
            int(values[0] or 0), str(values[1] or ""), str(values[2] or ""), str(values[3] or "")
        )
    return found


def blob_chain(meta: dict[str, Record], record_id: str) -> list[str]:
    """The layer blobs of a record and the records it stands on, base first."""
    chain: list[str] = []
    current = record_id
    while current in meta and len(chain) < 1000:
        if not meta[current].blob:
            return []
        chain.append(meta[current].blob)
        current = meta[current].parent
    return chain[::-1]


def sharing_keys(meta: dict[str, Record]) -> dict[str, list[str]]:
    """Per record, the manifest layer lists that make it shared: its own chain's, and those of every
    record built on it (BuildKit marks a shared record's parents shared)."""
    keys: dict[str, list[str]] = {}
    for record_id in meta:
        chain = blob_chain(meta, record_id)
        if not chain:
            continue
        key = f"layers:{'+'.join(chain)}"
        current = record_id
        while current in meta and len(keys.get(current, [])) < 1000:
            keys.setdefault(current, []).append(key)
            current = meta[current].parent
    return keys
