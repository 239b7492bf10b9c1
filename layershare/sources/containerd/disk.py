"""A node's containerd root as ``layershare disk`` sees it: one walk of the root, every byte attributed.

The images of the namespaces read (their snapshots and blobs), their containers' writable snapshots,
other namespaces' snapshots and blobs (unaccounted here, named after their namespace), orphans
(a snapshot or blob nothing uses: garbage containerd's collector takes when it next runs) and
containerd's metadata (its bbolt files, ingests, the runtimes' folders) add up to ``du`` of the root.

containerd is not asked anything, so whether a container runs is not known here, and nothing says
what a prune would reclaim: on a node the kubelet's image garbage collection decides that.
"""

from __future__ import annotations

import platform
from dataclasses import replace
from pathlib import Path

from layershare.analysis import build_report
from layershare.ids import chain_ids, qualified
from layershare.index import LayerIndex
from layershare.model import ContainerDisk, DiskRoot, DiskSnapshot
from layershare.sources.containerd.source import ContainerdSource, familiar_name
from layershare.sources.disk.items import categories_of, orphans_of, walk_notes, walked_usage
from layershare.sources.disk.layout import MEASURED, NamespaceUse, node_layout
from layershare.sources.disk.walk import WALKERS, walk
from layershare.sources.image_config import diff_ids
from layershare.sources.stores.containerd import read_config, read_namespaces
from layershare.sources.stores.containerd_meta import container_records, image_records
from layershare.times import now_iso


class NodeDiskSource:
    """The disk under a containerd root, for the namespaces a :class:`ContainerdSource` reads."""

    def __init__(self, source: ContainerdSource) -> None:
        self.source = source

    def snapshot(self) -> DiskSnapshot:
        """Walk the root once and return the model (raises what :class:`ContainerdSource` raises)."""
        source = self.source
        meta, chosen, snapshotter = source.opened()
        root = Path(source.root)
        arch = platform.machine()
        targets = {ns: sorted({r.target for r in image_records(meta, ns)}) for ns in chosen}
        store = read_namespaces(root, snapshotter, targets)
        several = len(chosen) > 1
        uses: dict[str, NamespaceUse] = {}
        containers: list[ContainerDisk] = []
        keys: list[str] = []
        for ns in chosen:
            chains: set[str] = set()
            for target in targets[ns]:
                config = read_config(root, target, arch)
                found = diff_ids(config) if config else None
                chains.update(chain_ids(found or []))
            records = container_records(meta, ns)
            uses[ns] = NamespaceUse(
                image_blobs=tuple(d for objects in store["images"][ns].values() for d in objects["blobs"]),
                image_chains=frozenset(chains),
                container_keys=frozenset(c.snapshot_key for c in records if c.snapshot_key),
            )
            target_of = {r.name: r.target for r in image_records(meta, ns)}
            for c in records:
                target = target_of.get(c.image, "")
                keys.append(c.snapshot_key)
                containers.append(
                    ContainerDisk(
                        id=qualified(ns, c.id) if several else c.id,
                        name=c.id,
                        image=familiar_name(c.image),
                        image_id=(qualified(ns, target) if several else target) if target else "",
                        state="unknown",
                        size_rw_bytes=0,
                    )
                )
        layout = node_layout(str(root), snapshotter, uses)
        walked = walk(layout.roots, workers=WALKERS)
        sized = []
        for container, key in zip(containers, keys, strict=True):
            measured = walked_usage(walked, ("containers", f"{key}{MEASURED}"))
            whole = walked_usage(walked, ("containers", key))
            sized.append(replace(container, size_rw_bytes=measured.disk_bytes if measured else 0, disk=whole))
        images = build_report(LayerIndex.from_snapshot(source.snapshot())).totals
        return DiskSnapshot(
            engine=source.engine_info(chosen, snapshotter),
            data_root=str(root),
            data_root_readable=True,
            roots=(DiskRoot(str(root), walked.roots.get(str(root))),),
            layers_bytes=images.physical_bytes,
            containers=tuple(sized),
            volumes=(),
            build_cache=(),
            orphans=orphans_of(layout, walked),
            walked=categories_of(walked),
            kept_layers_bytes=None,
            prune_rules=False,
            notes=tuple(walk_notes(walked, layout)),
            collected_at=now_iso(),
        )
