"""Saved disks read back: a ``layershare disk --format json`` file (``layershare.disk/v1``).

Only what a comparison over time needs is kept: the engine, when it was collected, the
allocated total, each category's bytes, and the items whose bytes grow (containers' writable
layers and logs, volumes, build-cache records, orphans).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from layershare.errors import SnapshotError
from layershare.model import CATEGORIES, EngineInfo, SavedCategory, SavedDisk, SavedItem

DISK_SCHEMA = "layershare.disk/v1"


def is_disk_document(document: object) -> bool:
    """Whether a JSON document is a saved ``layershare disk``."""
    return isinstance(document, Mapping) and document.get("schema") == DISK_SCHEMA


def saved_disk(path: str | Path, document: Mapping[str, Any]) -> SavedDisk:
    """A ``layershare.disk/v1`` document as a :class:`SavedDisk` (raises :class:`SnapshotError`)."""
    try:
        return _saved_disk(str(path), document)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SnapshotError(f"disk file {path} is malformed: {type(e).__name__}: {e}") from e


def _number(value: object) -> int | None:
    return None if value is None else int(str(value))


def _saved_disk(label: str, doc: Mapping[str, Any]) -> SavedDisk:
    engine: Mapping[str, Any] = doc["engine"]
    rows = {str(c["category"]): c for c in doc["categories"]}
    categories = tuple(
        SavedCategory(name, _number(rows[name].get("bytes")), _number(rows[name].get("disk_bytes")))
        for name in CATEGORIES
        if name in rows
    )
    items: list[SavedItem] = []
    for c in doc.get("containers") or ():
        parts = [_number(c.get("size_rw_bytes")), _number(c.get("log_bytes"))]
        known = [p for p in parts if p is not None]
        items.append(SavedItem("container", str(c["id"]), str(c.get("name") or c["id"][:12]), sum(known)))
    items += [
        SavedItem("volume", str(v["name"]), str(v["name"]), _number(v.get("bytes")))
        for v in doc.get("volumes") or ()
    ]
    items += [
        SavedItem("build cache", str(r["id"]), str(r.get("description") or r["id"]), _number(r.get("bytes")))
        for r in doc.get("build_cache") or ()
        if not r.get("shared")
    ]
    items += [
        SavedItem("orphan", f"{o.get('root', '')}/{o['path']}", str(o["path"]), _number(o.get("bytes")))
        for o in doc.get("orphans") or ()
    ]
    return SavedDisk(
        label=label,
        engine=EngineInfo(
            host=str(engine.get("host") or label),
            version=str(engine.get("version") or ""),
            api_version=str(engine.get("api_version") or ""),
            image_store="containerd" if engine.get("image_store") == "containerd" else "graphdriver",
            storage_driver=str(engine.get("storage_driver") or ""),
        ),
        collected_at=str(doc.get("collected_at") or ""),
        on_disk_bytes=_number(doc.get("on_disk_bytes")),
        categories=categories,
        items=tuple(items),
    )
