"""The containerd image store as a removal sees it: snapshots, blobs, leases, what the collector keeps."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from layershare.ids import chain_ids
from layershare.model.holdings import SOFT, StoredUnit
from layershare.sources.holdings.store import EngineStore
from layershare.sources.stores import buildkit, containerd, containerd_meta
from layershare.sources.stores.measure import layers_size_rule
from layershare.sources.stores.usage import DiskUsage


def containerd_units(
    store: EngineStore,
    images: list[dict[str, Any]],
    containers_json: list[dict[str, Any]],
    records: list[dict[str, Any]],
    units: dict[str, StoredUnit],
    others: dict[str, tuple[str, ...]],
    paths: dict[str, tuple[str, ...]],
) -> dict[str, tuple[str, ...]]:
    """Who holds what on the containerd store, as containerd's collector walks it: images their blobs
    (content labels) and snapshots, containers and BuildKit's records their leases, other namespaces'
    leases softly, record-less blobs as pending garbage. Fills ``units``, ``others`` and ``paths``;
    returns each holder's units.

    What each unit adds to ``LayersSize`` follows the engine's version (:func:`layers_size_rule`): every
    snapshot while anything holds it (before 29.6), or only the snapshots of the images' chains (29.6
    on); from 28.2 each blob an image's manifests reach, at its size, while an image reaches it.
    """
    rule = layers_size_rule(store.version)
    root = store.containerd_root
    assert root is not None
    folder = root / f"io.containerd.snapshotter.v1.{store.driver}"
    snapshots = {
        k: r for k, r in containerd_meta.read_snapshot_records(folder).items()
        if r.namespace == containerd_meta.NAMESPACE
    }  # fmt: skip
    by_name = {r.name: k for k, r in snapshots.items()}
    usage = DiskUsage()
    refs = containerd_meta.read_content_refs(root)
    blob_dir = root / containerd.CONTENT_BLOBS

    def snap(key: str | None) -> list[str]:
        found: list[str] = []
        while key is not None and key in snapshots and len(found) < 1000:
            unit = f"snapshot:{key}"
            record = snapshots[key]
            if unit not in units:
                try:
                    size = containerd_meta.reported_usage(folder, record, usage)
                except OSError:
                    size = 0
                units[unit] = StoredUnit(
                    unit, "snapshot", size, None, counted_with_images=rule == "image_chains_and_content"
                )
                paths[unit] = (str(folder / "snapshots" / str(record.number)),)
            found.append(unit)
            key = record.parent
        return found

    def blobs(start: Iterable[str]) -> list[str]:
        found = []
        for digest in containerd_meta.reachable(start, refs):
            unit = f"blob:{digest}"
            if unit not in units:
                units[unit] = StoredUnit(unit, "blob", 0, None)
                paths[unit] = (str(blob_dir / digest.removeprefix("sha256:")),)
            found.append(unit)
        return found

    holds: dict[str, tuple[str, ...]] = {}
    for image in images:
        config = containerd.read_config(root, image["id"], store.architecture)
        diff_ids = list(((config or {}).get("rootfs") or {}).get("diff_ids") or [])
        chain = chain_ids(diff_ids)
        top = by_name.get(chain[-1]) if chain else None
        holds[f"image:{image['id']}"] = tuple(blobs([image["id"]]) + snap(top))
        if rule != "all_snapshots":  # the blobs its manifests reach count while an image reaches them
            for digest in _manifest_blobs(blob_dir, image["id"]):
                unit = f"blob:{digest}"
                if unit in units and not units[unit].bytes:  # present, and held by the image
                    try:
                        size = containerd.blob_path(root, digest).stat().st_size
                    except OSError:
                        continue  # gone since: not counted
                    units[unit] = StoredUnit(unit, "blob", size, None, counted_with_images=True)
    for c in containers_json:
        cid = str(c["Id"])
        holds[f"container:{cid}"] = tuple(snap(by_name.get(cid)) + snap(by_name.get(f"{cid}-init")))
        paths[f"container:{cid}"] = ()
    record_ids = {str(r.get("ID")) for r in records}
    container_ids = {str(c["Id"]) for c in containers_json}
    sizes = {str(r.get("ID")): int(r.get("Size") or 0) for r in records}
    # BuildKit's records: one backed by a layer is "shared" (uncounted) while some image's manifest
    # lists exactly the layers of its chain, or of a record built on it; else the engine counts it
    # at its size, beside its own snapshot (BuildKit's ImageRefChecker on this store).
    meta = buildkit.records(Path(store.data_root, "buildkit", f"containerd-{store.driver}", "metadata_v2.db"))
    sharing = buildkit.sharing_keys(meta)
    for image in images:
        for layer_list in _manifest_layers(blob_dir, image["id"]):
            key = f"layers:{'+'.join(layer_list)}"
            units.setdefault(key, StoredUnit(key, "blob", 0, 0))
            holds[f"image:{image['id']}"] = (*holds.get(f"image:{image['id']}", ()), key)
    for lease in containerd_meta.read_leases(root):
        if lease.namespace != containerd_meta.NAMESPACE:
            # Content is stored once for every namespace: another's lease (BuildKit's build
            # history) keeps blobs from the collector too.
            # A build-history lease (BuildKit's) names blobs of the images it built. Measured on
            # Engine 26.1, some of those an image also holds go with the image, some stay: a
            # "soft" holder, whose blobs make freed_disk_bytes a range.
            held_there = set(lease.content) & containerd_meta.recorded_blobs(root, lease.namespace)
            others[f"{SOFT}{lease.namespace} lease {lease.id}"] = tuple(blobs(held_there))
            continue
        kept = [u for name in lease.snapshots for u in snap(by_name.get(name))] + blobs(lease.content)
        owner = lease.id.removesuffix("-view").removesuffix("-variants")  # BuildKit's side leases
        if lease.id in container_ids:  # the engine leases what each container uses
            holds[f"container:{lease.id}"] = (*holds.get(f"container:{lease.id}", ()), *kept)
            continue
        unit = f"build:{lease.id}"
        if sharing.get(lease.id):
            size = meta[lease.id].size
            units[unit] = StoredUnit(
                unit, "build_cache", sizes.get(lease.id, size), None,
                uncounted_under=tuple(sharing[lease.id]),
            )  # fmt: skip
            kept = [unit, *kept]
            paths.setdefault(unit, ())
        if owner in record_ids:
            holds[f"build:{owner}"] = (*holds.get(f"build:{owner}", ()), *kept)
        else:  # BuildKit's temporary leases expire or go with the records they serve
            others[f"{SOFT}lease {lease.id}"] = tuple(kept)
    for r in records:
        rid = str(r.get("ID"))
        key = f"build:{rid}"
        if key not in units:
            size = 0 if r.get("Shared") else int(r.get("Size") or 0)
            units[key] = StoredUnit(key, "build_cache", size, None)
            holds[key] = (key, *holds.get(key, ()))
        paths.setdefault(key, ())
    # Blob files no namespace has a record of: containerd's collector removes them when it next
    # runs (an image deleted runs it).
    recorded = containerd_meta.recorded_blobs(root)
    if recorded:
        stray = [f"sha256:{p.name}" for p in _entries(blob_dir) if f"sha256:{p.name}" not in recorded]
        others["garbage"] = tuple(blobs(stray))
    # Snapshots nothing above names (a view, a key of another client) are kept by something unknown.
    named = {u for keys in holds.values() for u in keys} | {u for keys in others.values() for u in keys}
    rest = [u for key in snapshots for u in snap(key) if u not in named]
    if rest:
        others["containerd"] = tuple(dict.fromkeys(rest))
    return holds


def _entries(folder: Path) -> list[Path]:
    try:
        return [folder / name for name in os.listdir(folder)]
    except OSError:
        return []


def _read_json(blob_dir: Path, digest: str) -> Any:
    try:
        return json.loads((blob_dir / digest.removeprefix("sha256:")).read_bytes())
    except (OSError, ValueError):
        return None


def _manifests(blob_dir: Path, target: str) -> list[tuple[str, Any]]:
    """(digest, document) of an image's target and, for an index, of each manifest it names."""
    top = _read_json(blob_dir, target)
    if not isinstance(top, dict):
        return []
    if "layers" in top:
        return [(target, top)]
    found = [(target, top)]
    for m in top.get("manifests") or []:
        digest = str(m.get("digest", ""))
        found.append((digest, _read_json(blob_dir, digest)))
    return found


def _manifest_blobs(blob_dir: Path, target: str) -> list[str]:
    """The blobs the engine walks from an image's target (moby's ``walkPresentChildren``): the index,
    each manifest present, its config and its layers; not what only GC labels keep."""
    found = []
    for digest, document in _manifests(blob_dir, target):
        if not isinstance(document, dict):
            continue
        found.append(digest)
        config = document.get("config")
        if isinstance(config, dict):
            found.append(str(config.get("digest", "")))
        found += [str(layer.get("digest", "")) for layer in document.get("layers") or []]
    return [d for d in found if d]


def _manifest_layers(blob_dir: Path, target: str) -> list[tuple[str, ...]]:
    """The layer digests of each manifest an image's target names (one per platform)."""
    manifests = [document for _, document in _manifests(blob_dir, target)]
    return [
        tuple(str(layer.get("digest", "")) for layer in m["layers"])
        for m in manifests
        if isinstance(m, dict) and isinstance(m.get("layers"), list)
    ]
