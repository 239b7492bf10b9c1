"""containerd on a node, read from its files: the kubelet's images (namespace ``k8s.io``), Docker's
(``moby``), or every namespace at once.

Kubernetes nodes run containerd without dockerd. This source reads, as root on the node:

- containerd's metadata (``io.containerd.metadata.v1.bolt/meta.db``): each namespace's image
  names and the digest each points at, its containers, and the labels its collector follows;
- the content store (``io.containerd.content.v1.content/blobs``): each image's index, manifests,
  configuration (its layers' diff IDs and its history) and layer blobs, weighed as ``du`` does;
- the snapshotter's metadata and folders (``io.containerd.snapshotter.v1.<name>``): each layer
  unpacked, named after its chain ID (the same chain IDs Docker computes for the same layers).

bbolt files are read from a copy taken in one read, since a running containerd holds their lock.
Content blobs are stored once for every namespace; snapshots once per namespace, so a node running
Docker (``moby``) and the kubelet (``k8s.io``) unpacks the layers they share twice. When several
namespaces are read, image IDs and chain IDs are told apart by their namespace (``k8s.io/sha256:…``).

An image's SIZE here is what it would hold on the node alone: its snapshots and its content blobs
(containerd's own tools show only the blobs). Nothing here writes to the store or asks containerd.
"""

from __future__ import annotations

import platform
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from layershare.errors import (
    ArchiveError,
    ContainerdStoreError,
    EnginePermissionDenied,
    ImageNotFound,
    UsageError,
)
from layershare.ids import chain_ids, qualified, short_id, split_namespace
from layershare.model import Blob, EngineInfo, Image, ImageContent, Layer, Snapshot
from layershare.redact import redact_created_by
from layershare.sources.image_config import config_history, oci_labels
from layershare.sources.image_config import diff_ids as config_diff_ids
from layershare.sources.interface import ContentSource, Source
from layershare.sources.references import familiar
from layershare.sources.stores.boltdb import BoltError, Tree
from layershare.sources.stores.containerd import blob_path, read_config, read_manifest, read_namespaces
from layershare.sources.stores.containerd_meta import (
    META_DB,
    ImageRecord,
    container_records,
    image_records,
    namespaces,
    read_meta,
)
from layershare.times import now_iso

DEFAULT_ROOT = Path("/var/lib/containerd")
DEFAULT_NAMESPACE = "k8s.io"
ALL_NAMESPACES = "all"


class ContainerdSource(Source, ContentSource):
    """The images of one containerd namespace (or of all of them), read from containerd's root folder."""

    def __init__(
        self,
        root: str | Path = DEFAULT_ROOT,
        namespace: str = DEFAULT_NAMESPACE,
        *,
        show_values: bool = False,
    ) -> None:
        self.root = Path(root)
        self.namespace = namespace
        self.show_values = show_values

    def _meta(self) -> Tree:
        path = self.root / META_DB
        try:
            return read_meta(self.root)
        except FileNotFoundError as e:
            raise ContainerdStoreError(
                f"{self.root} is not a containerd root: no {META_DB} (give --containerd-root)"
            ) from e
        except OSError as e:
            raise _unreadable(path, e) from e
        except BoltError as e:
            raise ContainerdStoreError(
                f"{path} is not a containerd metadata file layershare reads: {e}"
            ) from e

    def _readable(self, path: Path) -> None:
        """Refuse a root whose metadata reads but whose snapshots do not (mode 711 folders, not root)."""
        try:
            with path.open("rb"):
                pass
        except FileNotFoundError:
            return  # nothing unpacked with this snapshotter yet
        except OSError as e:
            raise _unreadable(path, e) from e

    def _image(
        self,
        store: Mapping[str, Any],
        ns: str,
        target: str,
        refs: list[ImageRecord],
        key: Callable[[str], str],
    ) -> tuple[Image, list[Layer], int] | None:
        """One image of a namespace, its layers (snapshots, keyed by ``key``) and how many of them are not
        unpacked; None where its manifest or configuration is not in the content store."""
        objects = store["images"][ns].get(target)
        config = read_config(self.root, target, platform.machine()) if objects else None
        diffs = config_diff_ids(config) if config else None
        if objects is None or config is None or diffs is None:
            return None
        snapshots: Mapping[str, int] = store["snapshots"][ns]
        chain = chain_ids(diffs)
        sizes = [snapshots.get(c, 0) for c in chain]
        history, layer_entries = config_history(config, sizes)
        if not self.show_values:
            history = tuple(h._replace(created_by=redact_created_by(h.created_by)) for h in history)
        layer_blobs: list[str] = objects["layer_blobs"]
        layers = []
        for k, chain_id in enumerate(chain):
            entry = history[layer_entries[k]] if layer_entries else None
            blob = store["blobs"].get(layer_blobs[k]) if k < len(layer_blobs) else None
            layers.append(
                Layer(
                    chain_id=key(chain_id),
                    diff_id=diffs[k],
                    parent_chain_id=key(chain[k - 1]) if k else None,
                    size_bytes=sizes[k],
                    created_by=entry.created_by if entry else "",
                    comment=entry.comment if entry else "",
                    created_by_exact=entry is not None,
                    blob_bytes=int(blob["size"]) if blob else None,
                )
            )
        references = [familiar(r.name) for r in refs]
        image = Image(
            id=key(target),
            tags=tuple(sorted(r for r in references if "@" not in r)),
            digests=tuple(sorted(r for r in references if "@" in r)),
            created=str(config.get("created") or ""),
            size_bytes=sum(sizes) + sum(int(store["blobs"][d]["size"]) for d in objects["blobs"]),
            diff_ids=tuple(diffs),
            chain_ids=tuple(key(c) for c in chain),
            history=history,
            labels=oci_labels(config),
            blob_digests=tuple(objects["blobs"]),
            platforms=tuple(objects["platforms"]),
            layer_blobs=tuple(layer_blobs) if len(layer_blobs) == len(chain) else (),
        )
        return image, layers, sum(1 for c in chain if c not in snapshots)

    def engine_info(self, chosen: list[str], snapshotter: str) -> EngineInfo:
        """What the model says of the source: containerd's root, its snapshotter, the namespaces read."""
        read = f"namespaces {', '.join(chosen)}" if len(chosen) > 1 else f"namespace {chosen[0]}"
        return EngineInfo(
            host=f"{self.root} ({read})",
            version="",
            api_version="",
            image_store="containerd",
            storage_driver=snapshotter,
            os="linux",
            arch=platform.machine(),
            root_dir=str(self.root),
            namespaces=tuple(chosen),
        )

    def opened(self) -> tuple[Tree, list[str], str]:
        """containerd's metadata, the namespaces read and their snapshotter (refused where unreadable)."""
        meta = self._meta()
        chosen = self.chosen_namespaces(meta)
        snapshotter = snapshotter_of(meta, chosen)
        self._readable(self.root / f"io.containerd.snapshotter.v1.{snapshotter}" / "metadata.db")
        return meta, chosen, snapshotter

    def chosen_namespaces(self, meta: Tree) -> list[str]:
        """The namespaces this source reads; :class:`UsageError` for one the root does not hold."""
        present = namespaces(meta)
        if self.namespace == ALL_NAMESPACES:
            return present
        if self.namespace not in present:
            raise UsageError(
                f"no namespace {self.namespace!r} in {self.root} "
                f"(there: {', '.join(present) or 'none'}; --namespace all reads every one)"
            )
        return [self.namespace]

    def snapshot(self) -> Snapshot:
        """Every image of the chosen namespaces, its layers (snapshots) and blobs, as the model."""
        return self.snapshot_of(*self.opened())

    def snapshot_of(self, meta: Tree, chosen: list[str], snapshotter: str) -> Snapshot:
        """The model from what :meth:`opened` read (``disk`` reads the metadata once for both)."""
        several = len(chosen) > 1
        # Every namespace's images are read: the blobs those of namespaces not chosen use are not
        # freed by removing the chosen ones (content is stored once for every namespace).
        records = {ns: image_records(meta, ns) for ns in namespaces(meta)}
        names: dict[str, dict[str, list[ImageRecord]]] = {}
        for ns, found in records.items():
            by_target: dict[str, list[ImageRecord]] = defaultdict(list)
            for record in found:
                by_target[record.target].append(record)
            names[ns] = dict(sorted(by_target.items()))
        store = read_namespaces(self.root, snapshotter, {ns: list(names[ns]) for ns in names}, meta=meta)
        elsewhere = Counter(
            d
            for ns in names
            if ns not in chosen
            for objects in store["images"][ns].values()
            for d in objects["blobs"]
        )

        def key(ns: str, content_id: str) -> str:
            return qualified(ns, content_id) if several else content_id

        layers: dict[str, Layer] = {}
        images: list[Image] = []
        skipped: list[str] = []
        not_unpacked = 0
        for ns in chosen:
            containers = containers_by_target(meta, ns, records[ns])
            for target, refs in names[ns].items():
                read = self._image(store, ns, target, refs, partial(key, ns))
                if read is None:
                    skipped.append(f"{ns}/{refs[0].name}")
                    continue
                image, image_layers, missing = read
                images.append(replace(image, containers=containers.get(target, 0)))
                for layer in image_layers:
                    layers.setdefault(layer.chain_id, layer)
                not_unpacked += missing
        used = dict.fromkeys(d for image in images for d in image.blob_digests)
        blobs: dict[str, Any] = store["blobs"]
        other_bytes = (
            int(store["other_snapshot_bytes"])
            + int(store["other_blob_bytes"])
            + sum(int(b["size"]) for d, b in blobs.items() if d not in used)
            + sum(
                size
                for ns in names
                for chain_id, size in store["snapshots"][ns].items()
                if ns not in chosen or key(ns, chain_id) not in layers
            )
        )
        return Snapshot(
            engine=self.engine_info(chosen, snapshotter),
            images=tuple(images),
            layers=tuple(layers.values()),
            notes=tuple(
                self._notes(meta, chosen, skipped, not_unpacked, int(store["duplicate_snapshot_bytes"]))
            ),
            collected_at=now_iso(),
            blobs=tuple(
                Blob(
                    digest=d,
                    size_bytes=int(blobs[d]["size"]),
                    kind=blobs[d]["kind"],
                    users_elsewhere=elsewhere.get(d, 0),
                )
                for d in used
            ),
            other_bytes=other_bytes,
            duplicate_bytes=int(store["duplicate_snapshot_bytes"]),
        )

    def image_content(self, image_id: str) -> ImageContent:
        """One image's layers and files, streamed from its layer blobs in the content store (nothing is
        unpacked); each layer's diff ID is checked against the image's configuration."""
        from layershare.sources.archive.layers import read_layer, sniff

        _, target = split_namespace(image_id)
        arch = platform.machine()
        manifest = read_manifest(self.root, target, arch)
        config = read_config(self.root, target, arch)
        diffs = config_diff_ids(config) if config else None
        if manifest is None or config is None or diffs is None:
            raise ImageNotFound(f"image {short_id(image_id)} is not in the content store of {self.root}")
        descriptors = list(manifest.get("layers") or [])
        if len(descriptors) != len(diffs):
            raise ArchiveError(
                f"image {short_id(image_id)}: its manifest lists {len(descriptors)} layers, its configuration "
                f"{len(diffs)}"
            )
        layers = []
        for k, descriptor in enumerate(descriptors):
            where = f"layer {k} of image {short_id(image_id)}"
            try:
                with blob_path(self.root, str(descriptor.get("digest", ""))).open("rb") as blob:
                    kind = sniff(blob.read(8))
                    blob.seek(0)
                    layer = read_layer(blob, "tar" if kind not in ("gzip", "zstd") else kind, where)
            except FileNotFoundError as e:
                raise ImageNotFound(f"{where}: its blob is no longer in the content store") from e
            except OSError as e:
                raise ArchiveError(f"{where}: cannot read its blob ({e.strerror or e})") from e
            if layer.diff_id != diffs[k]:
                raise ArchiveError(f"{where}: its blob unpacks to {layer.diff_id}, not {diffs[k]}")
            layers.append(layer)
        history, layer_entries = config_history(config, [layer.size_bytes for layer in layers])
        return ImageContent(
            config_digest=image_id,
            tags=(),
            diff_ids=tuple(diffs),
            layers=tuple(layers),
            layout="oci",
            created=str(config.get("created") or ""),
            platform="/".join(str(config[k]) for k in ("os", "architecture") if config.get(k)),
            history=history,
            layer_entries=layer_entries,
            labels=oci_labels(config),
        )

    def _notes(
        self, meta: Tree, chosen: list[str], skipped: list[str], not_unpacked: int, duplicate: int
    ) -> list[str]:
        notes = [
            "containerd: each layer is kept twice, as its content blob and unpacked as a snapshot; physical "
            "bytes count every blob and snapshot once, as du counts them on disk; an image's size is its "
            "snapshots and blobs as if it stood alone"
        ]
        others = [ns for ns in namespaces(meta) if ns not in chosen and image_records(meta, ns)]
        if others:
            notes.append(
                f"namespaces not read here: {', '.join(others)} (--namespace all reads every namespace); "
                "a blob their images use too counts as shared, since removing this namespace's images "
                "would not free it"
            )
        if duplicate:
            notes.append(
                "layers unpacked in more than one namespace (each namespace keeps its own snapshots): "
                f"{duplicate:,} bytes on disk are second copies"
            )
        if not_unpacked:
            notes.append(
                f"{not_unpacked} layer(s) are not unpacked in their namespace: only their blobs count"
            )
        for name in skipped:
            notes.append(f"image {name}: its manifest or configuration is not in the content store; skipped")
        return notes


def _unreadable(path: Path, error: OSError) -> EnginePermissionDenied | ContainerdStoreError:
    """The error to raise for a file of containerd's that cannot be read."""
    if isinstance(error, PermissionError):
        return EnginePermissionDenied(f"cannot read {path}: permission denied (run as root on the node)")
    return ContainerdStoreError(f"cannot read {path}: {error.strerror or error}")


def snapshotter_of(meta: Tree, chosen: list[str]) -> str:
    """The snapshotter the chosen namespaces' snapshots are recorded under (overlayfs unless another
    holds more of them)."""
    counts: Counter[str] = Counter()
    top = meta.get(b"v1")
    for ns in chosen:
        bucket = top.get(ns.encode()) if isinstance(top, dict) else None
        snapshots = bucket.get(b"snapshots") if isinstance(bucket, dict) else None
        for name, keys in snapshots.items() if isinstance(snapshots, dict) else ():
            counts[name.decode(errors="replace")] += len(keys) if isinstance(keys, dict) else 0
    return max(counts, key=lambda name: (counts[name], name == "overlayfs")) if counts else "overlayfs"


def containers_by_target(meta: Tree, namespace: str, records: list[ImageRecord]) -> Counter[str]:
    """How many of a namespace's containers were made from each image (by the digest its name points at)."""
    target_of = {r.name: r.target for r in records}
    return Counter(target_of[c.image] for c in container_records(meta, namespace) if c.image in target_of)
