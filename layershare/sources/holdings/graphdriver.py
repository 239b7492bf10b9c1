"""The graphdriver store as a removal sees it: layers, containers' layers, BuildKit's records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from layershare.model import Snapshot
from layershare.model.holdings import StoredUnit
from layershare.sources.holdings.store import EngineStore
from layershare.sources.stores import buildkit


def graphdriver_units(
    store: EngineStore,
    snapshot: Snapshot,
    containers_json: list[dict[str, Any]],
    records: list[dict[str, Any]],
    units: dict[str, StoredUnit],
    others: dict[str, tuple[str, ...]],
    paths: dict[str, tuple[str, ...]],
    readable: bool,
) -> dict[str, tuple[str, ...]]:
    """Who holds what on the graphdriver store: each image and container its layer chain (from the
    layer store's ``layerdb``), BuildKit's records their own folders and the layers they keep
    (``snapshots.db``, live records of ``metadata_v2.db``). Fills ``units``, ``others`` and each unit's
    ``paths``; returns each holder's units."""
    root = Path(store.data_root)
    layerdb = root / "image" / store.driver / "layerdb"
    driver_dir = str(root / store.driver)
    sizes = {layer.chain_id: layer.size_bytes for layer in snapshot.layers}
    parents = {layer.chain_id: layer.parent_chain_id for layer in snapshot.layers}

    def layer(chain: str) -> str:
        key = f"layer:{chain}"
        if key not in units:
            if chain not in sizes and readable:
                sizes[chain] = _read_int(layerdb / "sha256" / chain[7:] / "size")
                parent = _read_text(layerdb / "sha256" / chain[7:] / "parent")
                parents[chain] = parent or None
            units[key] = StoredUnit(key, "layer", sizes.get(chain, 0), None, counted_with_images=True)
            if not readable:
                paths[key] = ()
            elif not paths.get(key):  # a reader reading again (browse's walk) knows the folder already
                # Plain strings: one file for each of a thousand layers, where pathlib's joins cost more.
                cache_id = _read_text(f"{layerdb}/sha256/{chain[7:]}/cache-id")
                paths[key] = (f"{driver_dir}/{cache_id}",) if cache_id else ()
        return key

    def chain_of(top: str) -> tuple[str, ...]:
        found: list[str] = []
        current: str | None = top
        while current and len(found) < 1000:
            found.append(layer(current))
            current = parents.get(current)
        return tuple(found)

    holds: dict[str, tuple[str, ...]] = {}
    for image in snapshot.images:
        holds[f"image:{image.id}"] = chain_of(image.chain_ids[-1]) if image.chain_ids else ()
    tops = {i.id: (i.chain_ids[-1] if i.chain_ids else "") for i in snapshot.images}
    for c in containers_json:
        cid = str(c["Id"])
        unit = f"container:{cid}"
        layer_folders = []
        if readable:
            for name in ("mount-id", "init-id"):
                folder = _read_text(layerdb / "mounts" / cid / name)
                if folder:
                    layer_folders.append(str(root / store.driver / folder))
        paths[unit] = tuple(layer_folders)
        top = tops.get(str(c.get("ImageID") or ""), "")
        holds[unit] = chain_of(top) if top else ()
    kept_by_buildkit = buildkit.snapshots(root / "buildkit" / "snapshots.db") if readable else {}
    record_ids = {str(r.get("ID")) for r in records}
    # snapshots.db keeps entries of records BuildKit has pruned: only live records keep a layer.
    live = buildkit.records(root / "buildkit" / "metadata_v2.db") if readable else {}
    for key, entry in kept_by_buildkit.items():
        if entry.get("chainid") and key in live and key not in record_ids:
            # A record (not asked for: /system/df was not needed) that keeps this layer on disk, and
            # that the engine counts at its own size once no image holds the layer.
            layers = chain_of(entry["chainid"])
            unit = f"build:{key}"
            units[unit] = StoredUnit(unit, "build_cache", live[key].size, None, uncounted_under=layers[:1])
            others[f"build cache {key}"] = (unit, *layers)
    for r in records:
        rid = str(r.get("ID"))
        entry = kept_by_buildkit.get(rid, {})
        key = f"build:{rid}"
        # A record committed to the layer store: its committed folder is that layer's (held apart).
        folders = [rid] + (
            [entry["committed"]] if entry.get("committed") and not entry.get("chainid") else []
        )
        if entry.get("chainid"):
            # A record backed by a layer of the layer store: counted by the engine (at its own
            # size) only while no image holds that layer; it keeps the layer on disk either way.
            layers = chain_of(entry["chainid"])
            size = int(r.get("Size") or 0)
            units[key] = StoredUnit(key, "build_cache", size, None, uncounted_under=layers[:1])
            holds[key] = (key, *layers)
        else:
            units[key] = StoredUnit(
                key, "build_cache", 0 if r.get("Shared") else int(r.get("Size") or 0), None
            )
            holds[key] = (key,)
        paths[key] = tuple(str(root / store.driver / f) for f in folders) if readable else ()
    return holds


def _read_text(path: Path | str) -> str:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return ""


def _read_int(path: Path) -> int:
    try:
        return int(_read_text(path) or 0)
    except ValueError:
        return 0
