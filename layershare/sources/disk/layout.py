"""Who owns what under an engine's data root: the rules one walk attributes every byte by.

Built from the engine's own references, read from its files:

- graphdriver (overlay2): ``image/<driver>/layerdb/sha256/*/cache-id`` names each
  image layer's folder, ``layerdb/mounts/<container>/{mount-id,init-id}`` each
  container's writable and init layers, and the keys of BuildKit's
  ``buildkit/snapshots.db`` the folders it keeps as build cache;
- the containerd store: the snapshotter's records (``moby/<n>/<name>``: image
  layers are named by chain ID, a container's by its ID), containerd's leases
  (containers, BuildKit's records, build history) and the content blobs each
  image's manifest names.

A layer folder, snapshot, blob, container or volume folder nothing references
is an orphan, with the reason; a top-level entry the engine does not keep is
unaccounted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from layershare.sources.disk.walk import Owner, Rules
from layershare.sources.stores import buildkit as buildkit_files
from layershare.sources.stores import containerd_meta
from layershare.sources.stores.boltdb import Tree

METADATA: Owner = ("metadata", "")
# What a data root holds besides layers, containers, logs and volumes: the engine's own records.
ENGINE_FOLDERS = frozenset(
    {
        "image",
        "network",
        "plugins",
        "swarm",
        "tmp",
        "trust",
        "runtimes",
        "engine-id",
        "buildkit",
        "containerd",
        "rootfs",
        "volumes",
        "containers",
    }
)
CONTENT = "io.containerd.content.v1.content/blobs/sha256"
# Marks the part of a container (its writable layer) or volume (its data) the engine itself sizes.
MEASURED = "/measured"


@dataclass(frozen=True)
class OrphanFound:
    """Why an entry is an orphan (its bytes are counted by the walk)."""

    root: str
    path: str
    kind: str
    why: str


@dataclass
class Layout:
    """The rules of each root to walk, and the orphans they name as the walk meets them."""

    roots: dict[str, Rules] = field(default_factory=dict)
    orphans: dict[str, OrphanFound] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    buildkit_records: int = 0

    def orphan(self, root: str, path: str, kind: str, why: str) -> Owner:
        """The owner of an orphan at ``path`` (relative to ``root``), remembered with its reason."""
        key = f"{root.rstrip('/')}/{path}"
        self.orphans.setdefault(key, OrphanFound(root, path, kind, why))
        return ("orphans", key)

    def orphans_under(
        self, root: str, folder: str, kind: str, why: Callable[[str], str]
    ) -> Callable[[str], Owner]:
        """A naming rule: each child of ``folder`` no exact rule names is an orphan of ``kind``."""
        return lambda name: self.orphan(root, f"{folder}/{name}", kind, why(name))


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _layer_folder_why(name: str) -> str:
    if name.endswith("-removing"):
        return "left by a removal that did not finish"
    if name.endswith("-init"):
        return "the init layer of a container that no longer exists"
    return "no layer, container or build-cache record references it"


def _top_level(data_root: str, driver: str) -> Callable[[str], Owner]:
    known = ENGINE_FOLDERS | {driver}

    def owner(name: str) -> Owner:
        return METADATA if name in known else ("unaccounted", f"{data_root.rstrip('/')}/{name}")

    return owner


def _containers_and_volumes(
    layout: Layout, rules: Rules, root: str, container_ids: Iterable[str], volumes: Iterable[str]
) -> None:
    for cid in container_ids:
        rules.exact[f"containers/{cid}"] = METADATA
        rules.children[f"containers/{cid}"] = _logs_of(cid)
    rules.children["containers"] = layout.orphans_under(
        root, "containers", "container folder", lambda _: "no container has this ID"
    )
    rules.exact["volumes/metadata.db"] = METADATA
    rules.exact["volumes/backingFsBlockDev"] = METADATA  # the device node the engine uses for quotas
    for name in volumes:
        rules.exact[f"volumes/{name}"] = ("volumes", name)
        rules.exact[f"volumes/{name}/_data"] = ("volumes", f"{name}{MEASURED}")  # what the engine sizes
    rules.children["volumes"] = layout.orphans_under(
        root, "volumes", "volume folder", lambda _: "no volume has this name"
    )


def is_log(cid: str, name: str) -> bool:
    """Whether a child of a container's folder is its log: json-file logs (rotated ones too), or the
    local driver's folder."""
    return name.startswith(f"{cid}-json.log") or name == "local-logs"


def _logs_of(cid: str) -> Callable[[str], Owner]:
    """A container folder's children: its logs, else metadata."""

    def owner(name: str) -> Owner:
        return ("logs", cid) if is_log(cid, name) else METADATA

    return owner


def graphdriver_layout(
    data_root: str,
    driver: str,
    container_ids: Iterable[str],
    volumes: Iterable[str],
    inactive_store: str | None = None,
) -> Layout:
    """The rules of an overlay2 (or other graphdriver) data root; ``inactive_store`` the containerd store
    left beside it (``containerd/daemon``, whose content and snapshots count as inactive)."""
    layout = Layout()
    root = Path(data_root)
    rules = Rules(root=METADATA)
    rules.children[""] = _top_level(data_root, driver)
    if inactive_store:
        for kept in ("io.containerd.content.v1.content", "io.containerd.snapshotter.v1.overlayfs"):
            rules.exact[f"{inactive_store}/{kept}"] = ("inactive_store", "containerd")
    layerdb = root / "image" / driver / "layerdb"
    for cache_id in _files_named(layerdb / "sha256", "cache-id"):
        rules.exact[f"{driver}/{cache_id}"] = ("images", "")
    for mount in _folders(layerdb / "mounts"):
        for name in ("mount-id", "init-id"):
            folder = _read_text(layerdb / "mounts" / mount / name)
            if folder:
                rules.exact[f"{driver}/{folder}"] = ("containers", mount)
                if name == "mount-id":  # the writable layer the engine sizes as SizeRw
                    rules.exact[f"{driver}/{folder}/diff"] = ("containers", f"{mount}{MEASURED}")
    buildkit = list(buildkit_files.snapshots(root / "buildkit" / "snapshots.db"))
    layout.buildkit_records = len(buildkit)
    for key in buildkit:
        rules.exact.setdefault(f"{driver}/{key}", ("build_cache", key))
    rules.exact[f"{driver}/l"] = METADATA
    rules.children[driver] = layout.orphans_under(data_root, driver, "layer folder", _layer_folder_why)
    rules.exact["buildkit/content"] = ("build_cache", "")
    _containers_and_volumes(layout, rules, data_root, container_ids, volumes)
    layout.roots[data_root] = rules
    return layout


def _files_named(folder: Path, name: str) -> list[str]:
    """The text of ``folder/*/name`` for each subfolder (the layer store's ``cache-id`` files)."""
    found = []
    for child in _folders(folder):
        try:
            with open(os.path.join(folder, child, name), "rb") as f:
                text = f.read().decode(errors="replace").strip()
        except OSError:
            continue
        if text:
            found.append(text)
    return found


def _folders(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def containerd_layout(
    data_root: str,
    store_root: str,
    snapshotter: str,
    *,
    container_ids: Iterable[str],
    volumes: Iterable[str],
    image_blobs: Iterable[str],
    image_chains: Iterable[str],
    namespace: str = containerd_meta.NAMESPACE,
    inactive: Iterable[str] = (),
) -> Layout:
    """The rules of a data root whose images live in containerd's store (inside it, or at ``store_root``);
    ``inactive`` names the graphdriver stores left beside it (their layer folders and image metadata)."""
    layout = Layout()
    rules = Rules(root=METADATA)
    rules.children[""] = _top_level(data_root, "")
    for driver in inactive:
        rules.exact[driver] = ("inactive_store", driver)
        rules.exact[f"image/{driver}"] = ("inactive_store", driver)
    containers = set(container_ids)
    for cid in containers:
        rules.exact[f"rootfs/{snapshotter}/{cid}"] = ("containers", cid)
    _containers_and_volumes(layout, rules, data_root, containers, volumes)
    inside = Path(store_root).is_relative_to(data_root)
    prefix = f"{Path(store_root).relative_to(data_root).as_posix()}/" if inside else ""
    store_rules = rules if inside else Rules(root=METADATA)
    walked_root = data_root if inside else store_root
    store = Path(store_root)
    snapshot_dir = store / f"io.containerd.snapshotter.v1.{snapshotter}"
    records = containerd_meta.read_snapshot_records(snapshot_dir)
    leases = containerd_meta.read_leases(store)
    owners = _snapshot_owners(records, leases, set(image_chains), containers, namespace)
    folder = f"{prefix}io.containerd.snapshotter.v1.{snapshotter}/snapshots"
    for key, record in records.items():
        found = owners.get(key)
        if found is None and record.namespace != namespace:
            found = ("other_namespaces", record.namespace)  # another client's, not this engine's
        if found is None:
            why = f"{record.name}: no image, container or build-cache record uses it"
            found = layout.orphan(walked_root, f"{folder}/{record.number}", "snapshot", why)
        store_rules.exact[f"{folder}/{record.number}"] = found
        if found[0] == "containers" and record.name == found[1]:  # the writable snapshot: SizeRw
            store_rules.exact[f"{folder}/{record.number}/fs"] = ("containers", f"{found[1]}{MEASURED}")
    store_rules.children[folder] = layout.orphans_under(
        walked_root, folder, "snapshot folder", lambda _: "no snapshot record names it"
    )
    blobs = f"{prefix}{CONTENT}"
    refs = containerd_meta.read_content_refs(store, namespace)
    for digest in containerd_meta.reachable(image_blobs, refs):
        store_rules.exact[f"{blobs}/{digest.removeprefix('sha256:')}"] = ("images", "")
    for lease in leases:
        item = "" if lease.namespace == namespace else "build history"
        lease_refs = (
            refs
            if lease.namespace == namespace
            else containerd_meta.read_content_refs(store, lease.namespace)
        )
        for digest in containerd_meta.reachable(lease.content, lease_refs):
            store_rules.exact.setdefault(f"{blobs}/{digest.removeprefix('sha256:')}", ("build_cache", item))
    store_rules.children[blobs] = layout.orphans_under(
        walked_root, blobs, "content blob", lambda _: "no image or lease uses it"
    )
    layout.roots[data_root] = rules
    if not inside:
        layout.roots[store_root] = store_rules
    return layout


def _snapshot_owners(
    records: Mapping[str, containerd_meta.SnapshotRecord],
    leases: Iterable[containerd_meta.Lease],
    image_chains: set[str],
    containers: set[str],
    namespace: str,
) -> dict[str, Owner]:
    """Each snapshot's owner: images first (their chains and what they stand on), then containers,
    then what leases keep (BuildKit's records); each owner also holds the parents no one else owns."""
    owners: dict[str, Owner] = {}
    ours = {k: r for k, r in records.items() if r.namespace == namespace}

    def claim(key: str | None, owner: Owner) -> None:
        while key is not None and key in ours and key not in owners:
            owners[key] = owner
            key = ours[key].parent

    for key, record in ours.items():
        if record.name in image_chains:
            claim(key, ("images", ""))
    for key, record in ours.items():
        cid = record.name.removesuffix("-init")
        if cid in containers:
            claim(key, ("containers", cid))
    by_name = {r.name: k for k, r in ours.items()}  # leases name snapshots as clients do
    for lease in leases:
        if lease.namespace != namespace or lease.id in containers:
            continue
        for name in lease.snapshots:
            claim(by_name.get(name), ("build_cache", lease.id))
    return owners


@dataclass(frozen=True)
class NamespaceUse:
    """What one containerd namespace's images and containers use: the blobs its images' manifests name,
    its images' chain IDs, and its containers' snapshot keys."""

    image_blobs: tuple[str, ...]
    image_chains: frozenset[str]
    container_keys: frozenset[str]


def node_layout(root: str, snapshotter: str, uses: Mapping[str, NamespaceUse], meta: Tree) -> Layout:
    """The rules of a containerd root on a node (``/var/lib/containerd``), for the namespaces in ``uses``.

    Snapshots go to the images and containers of their namespace; another namespace's (and the blobs
    only it records) to ``other_namespaces``; a snapshot or blob nothing uses is an orphan; the rest of the root (the
    metadata bbolt files, ingests, the runtimes' folders) is containerd's metadata. ``meta`` is
    containerd's metadata, read once by the caller.
    """
    layout = Layout()
    rules = Rules(root=METADATA)
    store = Path(root)
    folder = f"io.containerd.snapshotter.v1.{snapshotter}/snapshots"
    records = containerd_meta.read_snapshot_records(store / f"io.containerd.snapshotter.v1.{snapshotter}")
    leases = containerd_meta.read_leases(store, meta=meta)
    owners: dict[str, Owner] = {}
    for namespace, use in uses.items():
        found = _snapshot_owners(records, leases, set(use.image_chains), set(use.container_keys), namespace)
        for key, claimed in found.items():  # a lease on a node holds a pull or an import under way
            owners[key] = (
                ("unaccounted", f"containerd lease {claimed[1]}") if claimed[0] == "build_cache" else claimed
            )
    for key, record in records.items():
        owner: Owner
        if key in owners:
            owner = owners[key]
        elif record.namespace not in uses:
            owner = ("other_namespaces", record.namespace)
        else:
            why = f"{record.name}: no image or container of namespace {record.namespace} uses it"
            owner = layout.orphan(root, f"{folder}/{record.number}", "snapshot", why)
        rules.exact[f"{folder}/{record.number}"] = owner
        if (
            owner[0] == "containers" and record.name == owner[1]
        ):  # the writable snapshot, as containerd sizes it
            rules.exact[f"{folder}/{record.number}/fs"] = ("containers", f"{owner[1]}{MEASURED}")
    rules.children[folder] = layout.orphans_under(
        root, folder, "snapshot folder", lambda _: "no snapshot record names it"
    )
    for namespace, use in uses.items():
        refs = containerd_meta.read_content_refs(store, namespace, meta=meta)
        for digest in containerd_meta.reachable(use.image_blobs, refs):
            rules.exact[f"{CONTENT}/{digest.removeprefix('sha256:')}"] = ("images", "")
    for namespace in sorted(set(containerd_meta.namespaces(meta)) - set(uses)):
        for digest in containerd_meta.recorded_blobs(store, namespace, meta=meta):
            rules.exact.setdefault(
                f"{CONTENT}/{digest.removeprefix('sha256:')}",
                ("other_namespaces", namespace),
            )
    for lease in leases:
        for digest in lease.content:
            rules.exact.setdefault(
                f"{CONTENT}/{digest.removeprefix('sha256:')}", ("unaccounted", f"containerd lease {lease.id}")
            )
    rules.children[CONTENT] = layout.orphans_under(
        root,
        CONTENT,
        "content blob",
        lambda _: "no image of the namespaces read uses it (garbage containerd collects)",
    )
    layout.roots[root] = rules
    return layout
