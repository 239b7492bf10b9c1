"""A node's containerd root as ``layershare disk`` sees it: one walk of the root, every byte attributed.

The images of the namespaces read (their snapshots and blobs), their containers' writable snapshots,
other namespaces' snapshots and blobs (``other_namespaces``, by namespace), orphans
(a snapshot or blob nothing uses: garbage containerd's collector takes when it next runs) and
containerd's metadata (its bbolt files, ingests, the runtimes' folders) add up to ``du`` of the root.

containerd is not asked anything, so whether a container runs is not known here, and nothing says
what a prune would reclaim: on a node the kubelet's image garbage collection decides that.
"""

from __future__ import annotations

from dataclasses import replace

from layershare.ids import qualified, split_namespace
from layershare.model import Container, DiskRoot, DiskSnapshot
from layershare.sources.containerd.source import ContainerdSource
from layershare.sources.disk.items import categories_of, orphans_of, walk_notes, walked_usage
from layershare.sources.disk.layout import MEASURED, NamespaceUse, node_layout
from layershare.sources.disk.walk import WALKERS, walk
from layershare.sources.interface import DiskReader
from layershare.sources.references import familiar
from layershare.sources.stores.containerd_meta import container_records, image_records
from layershare.times import now_iso


class NodeDiskSource(DiskReader):
    """The disk under a containerd root, for the namespaces a :class:`ContainerdSource` reads."""

    def __init__(self, source: ContainerdSource) -> None:
        self.source = source

    def snapshot(self) -> DiskSnapshot:
        """Walk the root once and return the model (raises what :class:`ContainerdSource` raises)."""
        source = self.source
        meta, chosen, snapshotter = source.opened()
        images = source.snapshot_of(meta, chosen, snapshotter)
        root = str(source.root)
        several = len(chosen) > 1
        blobs: dict[str, set[str]] = {ns: set() for ns in chosen}
        chains: dict[str, set[str]] = {ns: set() for ns in chosen}
        for image in images.images:  # what each namespace's images use, from the one reading
            ns = split_namespace(image.id)[0] or chosen[0]
            blobs[ns].update(image.blob_digests)
            chains[ns].update(split_namespace(c)[1] for c in image.chain_ids)
        containers: list[tuple[str, Container, str]] = []  # (namespace, container, its snapshot's key)
        for ns in chosen:
            records = container_records(meta, ns)
            target_of = {r.name: r.target for r in image_records(meta, ns)}
            for c in records:
                target = target_of.get(c.image, "")
                container = Container(
                    id=qualified(ns, c.id) if several else c.id,
                    name=c.id,
                    image=familiar(c.image),
                    image_id=(qualified(ns, target) if several else target) if target else "",
                    state="unknown",
                    size_rw_bytes=0,
                )
                containers.append((ns, container, c.snapshot_key))
        uses = {
            ns: NamespaceUse(
                image_blobs=tuple(sorted(blobs[ns])),
                image_chains=frozenset(chains[ns]),
                container_keys=frozenset(key for where, _, key in containers if where == ns and key),
            )
            for ns in chosen
        }
        layout = node_layout(root, snapshotter, uses, meta)
        walked = walk(layout.roots, workers=WALKERS)
        sized = []
        for _, container, key in containers:
            measured = walked_usage(walked, ("containers", f"{key}{MEASURED}"))
            whole = walked_usage(walked, ("containers", key))
            sized.append(replace(container, size_rw_bytes=measured.disk_bytes if measured else 0, disk=whole))
        return DiskSnapshot(
            engine=images.engine,
            data_root=root,
            data_root_readable=True,
            roots=(DiskRoot(root, walked.roots.get(root)),),
            layers_bytes=images.stored_bytes,
            containers=tuple(sized),
            volumes=(),
            build_cache=(),
            orphans=orphans_of(layout, walked),
            walked=categories_of(walked),
            prune_rules=False,
            notes=tuple(walk_notes(walked, layout)),
            collected_at=now_iso(),
        )
