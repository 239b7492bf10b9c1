"""The containerd image store on disk: content blobs and unpacked snapshots, each weighed as ``du`` does.

With the containerd image store (Docker 29's default, Docker Desktop) every
layer is kept twice: as the content blob that was pulled or loaded, and
unpacked as a snapshot. The engine's own figures mislead there (moby issues
52476, 53398). Where this process can read the store (root on the engine's
host), this module weighs both:

- content blobs (``io.containerd.content.v1.content/blobs/sha256/<hex>``):
  each image's index (if any), the manifests of the platforms present, their
  configs and layer blobs, found by reading the image's own manifest from the
  store (an image ID is the digest of its manifest or index);
- snapshots (``io.containerd.snapshotter.v1.<driver>/snapshots/<n>``): the
  snapshotter's bbolt metadata names each committed snapshot after its chain
  ID and records its size; the snapshot's own folders are added, so each
  snapshot weighs what ``du`` counts for its folder.

Each blob and snapshot is also weighed in the engine's own measure (``bytes`` of a blob: its length,
the descriptor's size; ``snapshot_bytes``: the usage containerd records for a committed snapshot),
which is what ``LayersSize`` adds up (:func:`layershare.sources.stores.measure.layers_size_rule`).

What no image uses (containers' writable layers, leftovers) is reported apart.
Everything here is JSON-ready: it goes into a recording as ``content_store``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from layershare.ids import chain_ids
from layershare.sources.stores.boltdb import Tree
from layershare.sources.stores.containerd_meta import (
    NAMESPACE,
    SnapshotRecord,
    reachable,
    read_content_refs,
    read_snapshot_records,
    reported_usage,
    snapshot_usage,
)
from layershare.sources.stores.measure import layers_size_rule
from layershare.sources.stores.usage import DiskUsage


def _roots(info: Mapping[str, Any]) -> list[Path]:
    """Where containerd keeps its state: dockerd's own containerd, else the system's."""
    roots = []
    if info.get("DockerRootDir"):
        roots.append(Path(str(info["DockerRootDir"]), "containerd", "daemon"))
    roots.append(Path("/var/lib/containerd"))
    return roots


CONTENT_BLOBS = Path("io.containerd.content.v1.content", "blobs", "sha256")


def _blobs(root: Path) -> Path:
    return root / CONTENT_BLOBS


def find_store_near(data_root: str) -> Path | None:
    """The containerd root a data root's engine uses: its own (``containerd/daemon``), else the system's."""
    return find_store({"DockerRootDir": data_root})


def find_store(info: Mapping[str, Any]) -> Path | None:
    """The containerd root holding a readable content store, if any."""
    for root in _roots(info):
        blobs = _blobs(root)
        if os.access(blobs, os.R_OK | os.X_OK):
            return root
    return None


def read_store(info: Mapping[str, Any], image_ids: Iterable[str]) -> dict[str, Any] | None:
    """Blobs and snapshots of the engine's containerd store and which images use them; None if unreadable."""
    root = find_store(info)
    if root is None:
        return None
    # Engines 28.2 to 29.5 count every snapshot in LayersSize: weigh them all in that measure too.
    every = layers_size_rule(str(info.get("ServerVersion") or "")) == "all_snapshots_and_content"
    return read_store_at(root, str(info.get("Driver") or "overlayfs"), image_ids, every_snapshot=every)


def read_store_at(
    root: Path,
    snapshotter_name: str,
    image_ids: Iterable[str],
    usage: DiskUsage | None = None,
    *,
    every_snapshot: bool = False,
) -> dict[str, Any]:
    """Blobs and snapshots of the containerd store at ``root`` and which of Docker's images use them.

    ``usage`` weighs files and folders (default: as ``du`` does on this disk); ``every_snapshot`` also
    weighs every snapshot of Docker's namespace in the engine's measure (``every_snapshot_bytes``).
    """
    store = read_namespaces(
        root, snapshotter_name, {NAMESPACE: image_ids}, usage, every_snapshot=every_snapshot
    )
    return {
        "blobs": store["blobs"],
        "images": store["images"][NAMESPACE],
        "snapshots": store["snapshots"][NAMESPACE],
        "snapshot_bytes": store["snapshot_bytes"][NAMESPACE],
        "other_snapshot_bytes": store["other_snapshot_bytes"],
        "step_snapshots": store["step_snapshots"][NAMESPACE],
        "other_blob_bytes": store["other_blob_bytes"],
        **({"every_snapshot_bytes": store["every_snapshot_bytes"][NAMESPACE]} if every_snapshot else {}),
    }


def read_namespaces(
    root: Path,
    snapshotter_name: str,
    image_ids: Mapping[str, Iterable[str]],
    usage: DiskUsage | None = None,
    meta: Tree | None = None,
    *,
    every_snapshot: bool = False,
) -> dict[str, Any]:
    """Blobs and snapshots of the containerd store at ``root``, for the images of each namespace named.

    ``image_ids`` maps a namespace to its image IDs (the digests its image names point at). Content
    blobs are stored once for every namespace (``blobs``); snapshots once per namespace
    (``snapshots[namespace][chain ID]``). ``other_snapshot_bytes`` and ``other_blob_bytes`` are what
    no image named uses (containers' writable layers, other namespaces' images, leftovers);
    ``duplicate_snapshot_bytes`` what unpacking a layer in more than one namespace costs (every
    copy of a layer's snapshot but the largest, over the whole store). ``meta``: containerd's metadata
    where the caller has read it already.
    """
    usage = usage or DiskUsage()
    blob_dir = _blobs(root)
    snapshotter = root / f"io.containerd.snapshotter.v1.{snapshotter_name}"
    blobs: dict[str, dict[str, Any]] = {}
    images: dict[str, dict[str, dict[str, Any]]] = {}
    for namespace, ids in image_ids.items():
        refs = read_content_refs(root, namespace, meta=meta)
        images[namespace] = {
            image_id: found
            for image_id in ids
            if (found := _image_blobs(blob_dir, image_id, refs, blobs, usage)) is not None
        }
    records = read_snapshot_records(snapshotter)  # the snapshotter's metadata, read once
    snapshots, reported, other_snapshot_bytes, duplicate = _snapshots(
        snapshotter, records, usage, set(image_ids)
    )
    other_blob_bytes = sum(
        usage.entry_if_present(p) for p in _files(blob_dir) if f"sha256:{p.name}" not in blobs
    )
    # Every snapshot of each namespace in the engine's measure (what LayersSize counts before 29.6).
    every: dict[str, int] = dict.fromkeys(image_ids if every_snapshot else (), 0)
    for record in records.values():
        if record.namespace in every:
            with contextlib.suppress(OSError):
                every[record.namespace] += reported_usage(snapshotter, record, usage)
    # The classic builder's step snapshots in each image's chain (weighed once, listed per image).
    steps: dict[str, dict[str, dict[str, int]]] = {}
    for namespace in image_ids:
        steps[namespace] = {}
        below = _step_snapshots(snapshotter, records, namespace, steps[namespace], usage)
        for found in images[namespace].values():
            found["steps"] = sorted({name for top in found.pop("chain_tops") for name in below(top)})
    return {
        "blobs": blobs,
        "images": images,
        "snapshots": {namespace: snapshots.get(namespace, {}) for namespace in image_ids},
        "snapshot_bytes": {namespace: reported.get(namespace, {}) for namespace in image_ids},
        "other_snapshot_bytes": other_snapshot_bytes,
        "step_snapshots": steps,
        "other_blob_bytes": other_blob_bytes,
        "duplicate_snapshot_bytes": duplicate,
        "every_snapshot_bytes": every,
    }


def _image_blobs(
    blob_dir: Path,
    image_id: str,
    refs: Mapping[str, list[str]],
    blobs: dict[str, dict[str, Any]],
    usage: DiskUsage,
) -> dict[str, Any] | None:
    """The blobs one image uses (index, manifests present, configs, layers, what labels keep), each
    weighed into ``blobs``; None where the store holds no manifest for it."""

    def blob(digest: str, kind: str) -> Any:
        path = blob_dir / digest.removeprefix("sha256:")
        try:
            size = usage.entry(path)
            length = path.stat().st_size
            document = json.loads(path.read_bytes()) if kind in ("index", "manifest") else None
        except (OSError, ValueError):
            return None
        blobs.setdefault(digest, {"size": size, "bytes": length, "kind": kind})
        return document if kind in ("index", "manifest") else True

    used: list[str] = []
    platforms: list[str] = []
    layer_blobs: list[str] = []
    top = blob(image_id, "manifest")
    manifests: list[tuple[str, Any]] = []
    if isinstance(top, dict) and isinstance(top.get("manifests"), list):
        blobs[image_id]["kind"] = "index"
        used.append(image_id)
        for descriptor in top["manifests"]:
            digest = str(descriptor.get("digest", ""))
            manifest = blob(digest, "manifest")
            if isinstance(manifest, dict):  # a platform not pulled has no manifest here
                platform = descriptor.get("platform") or {}
                platforms.append("/".join(str(platform[k]) for k in ("os", "architecture") if k in platform))
                manifests.append((digest, manifest))
    elif isinstance(top, dict):
        manifests.append((image_id, top))
    chain_tops: list[str] = []
    for digest, manifest in manifests:
        if manifest.get("layers") is None:
            continue  # an attestation or another artifact, not an image
        used.append(digest)
        config = str((manifest.get("config") or {}).get("digest", ""))
        if blob(config, "config"):
            used.append(config)
            diff_ids = (_document(blob_dir.parents[2], config) or {}).get("rootfs", {}).get("diff_ids")
            chain = chain_ids(list(diff_ids)) if isinstance(diff_ids, list) and diff_ids else []
            chain_tops += chain[-1:]
        for layer in manifest.get("layers") or []:
            layer_digest = str(layer.get("digest", ""))
            if blob(layer_digest, "layer"):
                used.append(layer_digest)
                layer_blobs.append(layer_digest)
    if not manifests:
        return None
    # What containerd's collector keeps for the image through its labels (the classic builder's
    # container configuration, on an image's config) goes with the image too.
    for digest in sorted(reachable(used, refs) - set(used)):
        if blob(digest, "kept"):
            used.append(digest)
    return {
        "blobs": list(dict.fromkeys(used)),
        "platforms": [p for p in platforms if p],
        "layer_blobs": layer_blobs,
        "chain_tops": chain_tops,
    }


_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def read_manifest(root: Path, image_id: str, architecture: str) -> dict[str, Any] | None:
    """The image manifest of an image ID (itself, or an index's platform that is present, this engine's
    own architecture first); None where the store does not hold it."""
    top = _document(root, image_id)
    manifest = top
    if isinstance(top, dict) and isinstance(top.get("manifests"), list):
        arch = _ARCH.get(architecture, architecture)
        ordered = sorted(
            top["manifests"], key=lambda d: (d.get("platform") or {}).get("architecture") != arch
        )
        manifest = next(
            (m for d in ordered if isinstance(m := _document(root, d.get("digest", "")), dict)), None
        )
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        return None
    return manifest


def read_config(root: Path, image_id: str, architecture: str) -> dict[str, Any] | None:
    """The image configuration of an image ID (see :func:`read_manifest`); None where the store does not
    hold it."""
    manifest = read_manifest(root, image_id, architecture)
    config = _document(root, manifest["config"].get("digest", "")) if manifest else None
    return config if isinstance(config, dict) else None


def blob_path(root: Path, digest: str) -> Path:
    """Where the content store keeps a blob."""
    return _blobs(root) / str(digest).removeprefix("sha256:")


def _document(root: Path, digest: str) -> Any:
    try:
        return json.loads(blob_path(root, digest).read_bytes())
    except (OSError, ValueError):
        return None


def _files(folder: Path) -> list[Path]:
    try:
        return [folder / name for name in os.listdir(folder)]
    except OSError:
        return []


def _snapshots(
    snapshotter: Path, records: Mapping[str, SnapshotRecord], usage: DiskUsage, wanted: set[str]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]], int, int]:
    """Each committed layer snapshot of the wanted namespaces (by namespace, then chain ID) as ``du``
    counts its folder and as containerd reports its usage (the engine's measure); every other snapshot
    together as ``du`` counts them; and the ``du`` bytes of the copies of layers unpacked in several
    namespaces."""
    by_namespace: dict[str, dict[str, int]] = {}
    reported: dict[str, dict[str, int]] = {}
    copies: dict[str, list[int]] = {}
    other = 0
    for record in records.values():
        try:
            size = snapshot_usage(snapshotter, record, usage)
        except OSError:
            continue
        layer = record.committed and record.name.startswith("sha256:")
        if layer:
            copies.setdefault(record.name, []).append(size)
        if layer and record.namespace in wanted:
            chains = by_namespace.setdefault(record.namespace, {})
            chains[record.name] = chains.get(record.name, 0) + size
            engine_chains = reported.setdefault(record.namespace, {})
            # The engine's measure of a layer: the usage containerd recorded when it was committed.
            engine_chains[record.name] = engine_chains.get(record.name, 0) + (record.recorded_size or 0)
        else:
            other += size
    duplicate = sum(sum(sizes) - max(sizes) for sizes in copies.values() if len(sizes) > 1)
    return by_namespace, reported, other, duplicate


def _step_snapshots(
    snapshotter: Path,
    every: Mapping[str, SnapshotRecord],
    namespace: str,
    weighed: dict[str, dict[str, int]],
    usage: DiskUsage,
) -> Callable[[str], tuple[str, ...]]:
    """What finds the committed snapshots inside an image's chain that are no layer's (not named after a
    chain ID: the classic builder's steps on the containerd store), below the snapshot a chain ID names,
    weighing each once into ``weighed``: in the engine's measure (``bytes``, the usage containerd
    recorded) and as ``du`` counts its folder (``size``). The engine's ``LayersSize`` and each image's
    SIZE walk a chain's parents and count them (Engine 29.6 and later)."""
    records = {k: r for k, r in every.items() if r.namespace == namespace}
    by_name = {r.name: k for k, r in records.items()}
    memo: dict[str, tuple[str, ...]] = {}

    def below(key: str | None) -> tuple[str, ...]:
        path: list[str] = []
        while key is not None and key in records and key not in memo and len(path) < 1000:
            path.append(key)
            key = records[key].parent
        found = memo.get(key, ()) if key is not None else ()
        for step in reversed(path):  # from the bottom up, each key's steps once
            record = records[step]
            if not record.name.startswith("sha256:"):
                # One removed since the metadata was read has nothing on disk: it is left out.
                with contextlib.suppress(OSError):
                    weighed.setdefault(record.name, {
                        "bytes": reported_usage(snapshotter, record, usage),
                        "size": snapshot_usage(snapshotter, record, usage),
                    })  # fmt: skip
                    found = (*found, record.name)
            memo[step] = found
        return found

    return lambda chain_top: below(by_name.get(chain_top))


def snapshots_usage(root: Path, snapshotter: str) -> int | None:
    """Every snapshot of this engine's namespace as containerd measures its usage (``LayersSize`` on the
    containerd store): the recorded size of a committed one, the blocks of an active one's ``fs``."""
    folder = root / f"io.containerd.snapshotter.v1.{snapshotter}"
    records = [r for r in read_snapshot_records(folder).values() if r.namespace == NAMESPACE]
    if not records:
        return None
    usage = DiskUsage()
    return sum(reported_usage(folder, r, usage) for r in records)
