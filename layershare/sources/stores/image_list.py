"""The containerd store's image list as Engine 29.6 and 29.7 answer ``GET /images/json?all=1&manifests=1``,
made from containerd's own records (root on the engine's host).

The engine sizes every image when it lists them: 6.5 s at 1,000 images on Engine 29.7, most of a cold
report. The rules here are read from moby's ``daemon/containerd/image_list.go``,
``image_manifest.go``, ``handlers.go`` and ``image_snapshot.go`` (the same from docker-v29.6.0 to
docker-v29.7.2; :func:`~layershare.sources.stores.measure.image_list_known` says which engines) and
containerd 2.1's ``core/images``:

- One summary per target digest. The names pointing at it give its tags in the short form
  ``docker image ls`` shows (``app:1``); a dangling record (``moby-dangling@<digest>``) counts only
  where no name points there. ``RepoDigests`` is the repository of the last such name (in the
  records' order) at the target digest; ``ParentId`` is that record's classic-builder label.
- Every manifest the target reaches (itself, or an index's, depth first) is summarised.
  ``Size.Content`` is the descriptor size of the manifest, its config and its layers, each that the
  store holds. An image manifest (not an attestation, not ``unknown/unknown``, not one whose layers
  are all of unknown types) adds to ``Size.Total`` the usage of its layer chain's snapshot and every
  parent, as containerd recorded it at commit (0 where the chain is not unpacked). ``Available``:
  the manifest, its config and every layer are held.
- ``Size`` is the sum of every manifest's ``Size.Total``. ``Created`` is the seconds of the ``created``
  time in the config of the best image manifest: the host's platform first, else the first one.
  ``Containers`` (how many containers use the image) is left out: containerd's records do not say
  which manifest a container runs, and nothing layershare shows depends on it.

Whatever this module cannot be sure the engine would answer the same (a name not in canonical form,
an unknown target type, a platform choice that hangs on the CPU's variant, a document that does not
parse, a record whose file is missing) makes :func:`list_images` give None, and the engine is asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layershare.ids import chain_ids
from layershare.sources.references import DIGEST, canonical, familiar
from layershare.sources.stores.boltdb import Tree
from layershare.sources.stores.containerd import blob_path
from layershare.sources.stores.containerd_meta import (
    NAMESPACE,
    SnapshotRecord,
    bucket,
    chain_usage,
    image_records,
)
from layershare.times import unix_seconds

MANIFEST_TYPES = frozenset({
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
})  # fmt: skip
INDEX_TYPES = frozenset({
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
})  # fmt: skip
DANGLING = "moby-dangling@"
PARENT_LABEL = "org.mobyproject.image.parent"  # the classic builder's parent image
REFERENCE_TYPE = "vnd.docker.reference.type"  # BuildKit's attestation manifests
REFERENCE_DIGEST = "vnd.docker.reference.digest"
_ARCH = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm"}


class Unsure(Exception):
    """What the engine would answer here is not certain: ask it."""


@dataclass(frozen=True)
class Descriptor:
    """An OCI descriptor as containerd's records or a document give it."""

    digest: str
    media_type: str
    size: int
    platform: Mapping[str, Any] | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, value: Any) -> Descriptor:
        if not isinstance(value, Mapping):
            raise Unsure("a descriptor that is not an object")
        size = value.get("size") or 0
        platform = value.get("platform")
        annotations = value.get("annotations") or {}
        if not isinstance(size, int) or not isinstance(annotations, Mapping):
            raise Unsure("a descriptor that does not parse")
        return cls(
            digest=str(value.get("digest") or ""),
            media_type=str(value.get("mediaType") or ""),
            size=size,
            platform=platform if isinstance(platform, Mapping) else None,
            annotations={str(k): str(v) for k, v in annotations.items()},
        )


@dataclass(frozen=True)
class ImageName:
    """One image record of the engine's namespace: its name, target and labels."""

    name: str
    target: Descriptor
    labels: Mapping[str, str]


@dataclass
class Store:
    """What the rules read: which blobs the namespace holds, their documents, and each chain's usage."""

    present: frozenset[str]
    document: Callable[[str], Any]  # a blob parsed as JSON; raises Unsure where it cannot be read
    chain_usage: Callable[[str], int]  # a chain ID's snapshot and its parents; 0 where not unpacked
    host: tuple[str, str]  # the engine's OS and architecture, normalised


@dataclass
class _Manifest:
    summary: dict[str, Any]
    platform: tuple[str, str, str] | None = None  # (os, architecture, variant) of an image manifest
    created: int = 0
    labels: Mapping[str, Any] | None = None  # its config's labels


def list_images(
    meta: Tree, snapshots: Mapping[str, SnapshotRecord], root: Path, info: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    """The engine's image list (``all=1&manifests=1``) from containerd's records at ``root``, read as
    ``meta`` (``meta.db``) and ``snapshots`` (the snapshotter's records); None where not certain."""
    snapshotter = str(info.get("Driver") or "overlayfs").encode()
    try:
        names = [
            ImageName(r.name, Descriptor(r.target, r.media_type, r.size), r.labels)
            for r in image_records(meta, NAMESPACE)
        ]
        store = Store(
            present=frozenset(d.decode() for d in bucket(meta, NAMESPACE, b"content", b"blob")),
            document=_reader(root),
            chain_usage=chain_usage(bucket(meta, NAMESPACE, b"snapshots", snapshotter), snapshots),
            host=(str(info.get("OSType") or "linux"), _normal_arch(str(info.get("Architecture") or ""))),
        )
        return summaries(names, store)
    # ValueError: a name not in canonical form; TypeError, AttributeError: a record of an unknown shape.
    except (Unsure, UnicodeDecodeError, ValueError, TypeError, AttributeError):
        return None


def summaries(names: Iterable[ImageName], store: Store) -> list[dict[str, Any]]:
    """Each target digest's summary, newest first (``names`` in the records' key order)."""
    unique: dict[str, tuple[ImageName, str | None]] = {}  # each digest's record and its repository
    tags: dict[str, list[str]] = {}
    for image in names:
        digest = image.target.digest
        if image.name == DANGLING + digest:
            unique.setdefault(digest, (image, None))
            continue
        repository, _ = canonical(image.name)  # a name not in canonical form: the engine is asked
        unique[digest] = (image, familiar(repository))
        tags.setdefault(digest, []).append(familiar(image.name))
    found = [_summary(*unique[digest], tags.get(digest, []), store) for digest in unique]
    return sorted(found, key=lambda s: (-int(s["Created"]), s["Id"]))


def _summary(image: ImageName, repository: str | None, tags: list[str], store: Store) -> dict[str, Any]:
    manifests = [_manifest(d, store) for d in _reachable_manifests(image.target, store)]
    total = sum(int(m.summary["Size"]["Total"]) for m in manifests)
    images = [m for m in manifests if m.platform is not None]
    best = _best(images, store.host)
    target = image.target.digest
    if best is None:
        return {
            "Id": target, "ParentId": "", "RepoTags": tags, "RepoDigests": [target], "Created": 0,
            "Size": total, "SharedSize": -1, "Labels": None,
            "Manifests": [m.summary for m in manifests],
        }  # fmt: skip
    return {
        "Id": target,
        "ParentId": image.labels.get(PARENT_LABEL, ""),
        "RepoTags": tags,
        "RepoDigests": [f"{repository}@{target}"] if repository else [],
        "Created": best.created,
        "Size": total,
        "SharedSize": -1,
        "Labels": dict(best.labels or {}),
        "Manifests": [m.summary for m in manifests],
    }


def _reachable_manifests(target: Descriptor, store: Store) -> list[Descriptor]:
    """The manifests a target reaches, in the engine's walk order (an index's children, depth first);
    a manifest or index not held has no children."""
    if target.media_type in MANIFEST_TYPES:
        return [target]
    if target.media_type not in INDEX_TYPES:
        raise Unsure(f"an image target of type {target.media_type}")
    found: list[Descriptor] = []

    def walk(descriptor: Descriptor, depth: int) -> None:
        if descriptor.media_type in MANIFEST_TYPES:
            found.append(descriptor)
            return  # a manifest's children (config, layers) hold no manifest
        if descriptor.media_type not in INDEX_TYPES or descriptor.digest not in store.present:
            return
        if depth > 8:
            raise Unsure("indexes nested too deep")
        index = _checked(store.document(descriptor.digest), descriptor.media_type)
        children = index.get("manifests") or []
        if not isinstance(children, list):
            raise Unsure("an index whose manifests are not a list")
        for child in children:
            walk(Descriptor.of(child), depth + 1)

    walk(target, 0)
    return found


def _manifest(descriptor: Descriptor, store: Store) -> _Manifest:
    """One manifest's summary (its kind, availability and sizes), and for an image manifest its platform
    and its config's creation time."""
    held = descriptor.digest in store.present
    document = _checked(store.document(descriptor.digest), descriptor.media_type) if held else None
    config = Descriptor.of(document.get("config") or {}) if document is not None else None
    listed = document.get("layers") or [] if document is not None else []
    if not isinstance(listed, list):
        raise Unsure("a manifest whose layers are not a list")
    layers = [Descriptor.of(d) for d in listed]
    children = ([config] if config is not None else []) + layers
    if any(c.media_type in MANIFEST_TYPES or c.media_type in INDEX_TYPES for c in children):
        raise Unsure("a manifest naming a manifest")
    content = (descriptor.size + sum(c.size for c in children if c.digest in store.present)) if held else 0
    available = held and all(c.digest in store.present for c in children)
    summary: dict[str, Any] = {
        "ID": descriptor.digest,
        "Available": available,
        "Kind": "unknown",
        "Size": {"Content": content, "Total": content},
    }
    platform = descriptor.platform or {}
    if REFERENCE_TYPE in descriptor.annotations:
        if DIGEST.fullmatch(descriptor.annotations.get(REFERENCE_DIGEST, "")):
            summary["Kind"] = "attestation"
        return _Manifest(summary)
    if platform.get("os") == "unknown" and platform.get("architecture") == "unknown":
        return _Manifest(summary)
    if document is not None and layers and not any(_is_layer(layer.media_type) for layer in layers):
        return _Manifest(summary)
    summary["Kind"] = "image"
    image_config: Mapping[str, Any] = {}
    if config is not None and config.digest in store.present:
        read = store.document(config.digest)
        if not isinstance(read, Mapping):
            raise Unsure("an image config that is not an object")
        image_config = read
    rootfs, container = image_config.get("rootfs") or {}, image_config.get("config") or {}
    if not isinstance(rootfs, Mapping) or not isinstance(container, Mapping):
        raise Unsure("an image config that does not parse")
    if descriptor.platform is None and image_config.get("os"):
        platform = image_config
    diff_ids = rootfs.get("diff_ids")
    if diff_ids is not None:
        if not isinstance(diff_ids, list):
            raise Unsure("diff IDs that are not a list")
        chain = chain_ids([str(d) for d in diff_ids])
        unpacked = store.chain_usage(chain[-1]) if chain else 0
        summary["Size"]["Total"] += unpacked
    return _Manifest(
        summary,
        platform=(
            str(platform.get("os") or ""),
            str(platform.get("architecture") or ""),
            str(platform.get("variant") or ""),
        ),
        created=_seconds(image_config.get("created")),
        labels=container.get("Labels") or {},
    )


def _best(images: list[_Manifest], host: tuple[str, str]) -> _Manifest | None:
    """The manifest the engine describes the image by: the first of the host's platform, else the first.
    Where that could hang on the CPU's variant or a compatible architecture (386 on amd64), the engine
    is asked."""
    if len(images) <= 1:
        return images[0] if images else None
    platforms = [_normal(m.platform or ("", "", "")) for m in images]
    hosts = [(m, p) for m, p in zip(images, platforms, strict=True) if p[:2] == host]
    if not hosts or len({p for _, p in hosts}) > 1 or hosts[0][1][2]:
        raise Unsure("a platform choice that hangs on the host's CPU")
    return hosts[0][0]


def _is_layer(media_type: str) -> bool:
    """containerd's ``IsLayerType``."""
    if media_type.startswith("application/vnd.oci.image.layer."):
        return True
    return media_type.partition("+")[0] in {
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
    }


def _checked(document: Any, media_type: str) -> dict[str, Any]:
    """A manifest or index as containerd reads it: an object that is what its descriptor says."""
    if not isinstance(document, dict) or document.get("fsLayers"):
        raise Unsure("a manifest that does not parse")
    own = str(document.get("mediaType") or "")
    if media_type in MANIFEST_TYPES and (document.get("manifests") or own in INDEX_TYPES):
        raise Unsure("an index where a manifest was named")
    if media_type in INDEX_TYPES and (
        document.get("config") or document.get("layers") or own in MANIFEST_TYPES
    ):
        raise Unsure("a manifest where an index was named")
    return document


def _seconds(created: Any) -> int:
    """Go's ``time.Time.Unix()`` of a config's ``created`` (0 where none is given)."""
    if created is None:
        return 0
    try:
        return unix_seconds(str(created))
    except ValueError as error:
        raise Unsure("a creation time that does not parse") from error


def _normal_arch(arch: str) -> str:
    return _ARCH.get(arch.lower(), arch.lower())


def _normal(platform: tuple[str, str, str]) -> tuple[str, str, str]:
    """An (os, architecture, variant) as containerd's ``platforms.Normalize`` compares them."""
    os, arch, variant = platform[0].lower(), _normal_arch(platform[1]), platform[2]
    if (arch, variant) in {("amd64", "v1"), ("arm64", "v8")}:
        variant = ""
    return os, arch, variant


def _reader(root: Path) -> Callable[[str], Any]:
    """Each blob's document, read once."""
    read: dict[str, Any] = {}

    def document(digest: str) -> Any:
        if digest not in read:
            try:
                read[digest] = json.loads(blob_path(root, digest).read_bytes())
            except (OSError, ValueError) as error:
                raise Unsure(f"blob {digest} cannot be read") from error
        return read[digest]

    return document
