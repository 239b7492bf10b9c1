"""The tree ``layershare browse`` shows: an engine's categories, the items in each, an image's layers,
a layer's largest files. Plain data made from the engine's state (what ``free`` plans on) and, once
the data root is walked, ``disk``'s categories; no terminal here.

Sizes are the engine's own measure (``StoredUnit.bytes``: what ``docker system df`` sums) wherever
the engine has one, as ``free`` weighs them. An image shows one of three figures: its unique bytes
(what removing it alone frees: what it holds that no other image does, and what the hidden parents
removed with it hold alone), its shared bytes (what other images hold too) or its attributed
bytes (each layer split evenly among the images that hold it, so the images add up to the store).
"""

from __future__ import annotations

import functools
import heapq
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from layershare.browse.dupes import dupe_nodes
from layershare.browse.layers import OTHER, LayerIndex, LayerRow, figures, other_text, parts
from layershare.browse.node import FILES_SHOWN, METADATA, Node, View
from layershare.disk.categories import DiskReport
from layershare.dupes.analysis import DupesReport
from layershare.free.parent_chain import parents_removed_with
from layershare.ids import short_id, stored_chain
from layershare.model import CATEGORIES, EngineImage, EngineState, Snapshot, StoredUnit
from layershare.render.disk import CATEGORY_LABELS
from layershare.sources.dupes.folders import files_folder
from layershare.units import human_size

STORED = ("layer", "snapshot", "blob")  # the kinds of unit an image's layers are stored as


class EngineTree:
    """The rows of one engine, made from its state; ``disk`` fills in what one walk of the data root
    found (logs, metadata, orphans, the allocated bytes) when it is there."""

    def __init__(
        self,
        state: EngineState,
        *,
        paths: Mapping[str, tuple[str, ...]] | None = None,
        read_files: Callable[[str, str], list[tuple[str, int]]] | None = None,
        snapshot: Snapshot | None = None,
    ) -> None:
        self.state = state
        self.layer_index = LayerIndex(snapshot)  # what made each layer (the report's collection)
        self.paths = paths or {}
        self.read_files = read_files  # (image ID, chain ID) -> (path, bytes), from the engine's export
        self.disk: DiskReport | None = None
        self.dupes: DupesReport | None = None  # the files stored more than once, once read (``dupes``)
        self.images_of: dict[str, list[str]] = {}
        for image in state.images:
            for unit in image.holds:
                # A layer, snapshot or blob (not a manifest's layer list: BuildKit's sharing, no bytes).
                if (
                    unit in state.units
                    and state.units[unit].kind in STORED
                    and not unit.startswith("layers:")
                ):
                    self.images_of.setdefault(unit, []).append(image.id)
        self.users_of: dict[str, list[str]] = {}
        for c in state.containers:
            self.users_of.setdefault(c.image_id, []).append(c.name)
        self.names = {i.id: (i.tags[0] if i.tags else f"<none> {short_id(i.id)}") for i in state.images}

    def walked(self, found: DiskReport | DupesReport) -> str:
        """Take what a worker read (the data root's walk, or every layer's files); what to say of it."""
        if isinstance(found, DupesReport):
            self.dupes = found
            return (
                f"{len(found.unread)} layer(s) could not be read: {found.unread[0][1]}"
                if found.unread
                else ""
            )
        self.disk = found
        notes = [n for n in found.snapshot.notes if "root" in n]
        if found.snapshot.data_root_readable:
            return ""
        return notes[0] if notes else "on disk: the data root needs root on the engine's host"

    # --- the views ---
    def roots(self, view: View) -> list[Node]:
        """The top level of a view."""
        if view == "disk":
            return self.categories()
        views: dict[str, Callable[[], list[Node]]] = {
            "images": self.image_nodes,
            "containers": self.container_nodes,
            "volumes": self.volume_nodes,
            "cache": self.build_nodes,
            "layers": self.layer_nodes,
            "dupes": lambda: dupe_nodes(self.dupes, self.image_nodes),
        }
        return views[view]()

    def categories(self) -> list[Node]:
        """``layershare disk``'s categories: the engine's figures now, the walk's when it is done."""
        state, report = self.state, self.disk
        states = {b.state_volume for b in state.builders}
        engine_bytes: dict[str, int | None] = {
            "images": sum(u.bytes for u in state.units.values() if u.kind in STORED),
            "containers": sum(c.size_rw_bytes for c in state.containers),
            "volumes": sum(v.bytes or 0 for v in state.volumes if v.name not in states),
            "build_cache": sum(r.bytes for r in state.build_cache if not r.shared),
            "builders": sum(b.volume_bytes or 0 for b in state.builders),
        }
        loaders: dict[str, Callable[[], list[Node]]] = {
            "images": self.image_nodes,
            "containers": self.container_nodes,
            "volumes": self.volume_nodes,
            "build_cache": self.build_nodes,
            "builders": self.builder_nodes,
        }
        nodes = []
        for category in CATEGORIES:
            row = report.category(category) if report is not None else None
            value = row.bytes if row is not None else engine_bytes.get(category)
            if report is None and category not in engine_bytes:
                detail = "sizing… (walking the data root)"
            elif row is not None and row.disk_bytes is not None:
                detail = f"{human_size(row.disk_bytes)} on disk"
            elif report is not None and not report.snapshot.data_root_readable:
                detail = "on disk: needs root on the engine's host"
            else:
                detail = ""
            if value is None and category not in loaders and report is not None:
                continue
            if category in ("inactive_store", "other_namespaces", "builders") and not value:
                continue
            nodes.append(
                Node(
                    f"category:{category}",
                    "category",
                    CATEGORY_LABELS[category],
                    value,
                    detail,
                    load=loaders.get(category),
                )
            )
        return nodes

    def image_nodes(self) -> list[Node]:
        """Each listed image. Its unique bytes are what removing it alone frees of the image store:
        what it holds, and the hidden parents removed with it hold, that no image left holds."""
        units = self.state.units
        nodes = []
        images = {i.id: i for i in self.state.images}
        parents = {i.parent_id for i in self.state.images}
        taken = parents_removed_with(
            ((i.id, i.tags, i.parent_id) for i in self.state.images),
            self.users_of,
            self.state.engine.image_store == "containerd",
        )
        for image in self.state.images:
            if not image.tags and image.id in parents:
                continue  # an intermediate image (the classic builder's step): hidden, as docker image ls does
            gone = {image.id, *taken.get(image.id, ())}
            seen: set[str] = set()
            unique = shared = 0
            attributed = 0.0
            for key in image.holds:
                holders = self.images_of.get(key)
                if not holders:
                    continue
                size = units[key].bytes
                if gone.issuperset(holders):
                    unique += size
                else:
                    shared += size
                attributed += size / len(holders)
            for parent in taken.get(image.id, ()):  # what the parents removed with it hold alone
                for key in images[parent].holds:
                    holders = self.images_of.get(key)
                    if holders and image.id not in holders and gone.issuperset(holders) and key not in seen:
                        seen.add(key)
                        unique += units[key].bytes
            users = self.users_of.get(image.id, [])
            tags = ", ".join(image.tags) if image.tags else f"<none> {short_id(image.id)}"
            detail = f"{len(users)} container{'s' if len(users) != 1 else ''}" if users else ""
            nodes.append(
                Node(
                    f"image:{image.id}",
                    "image",
                    tags,
                    unique + shared,
                    detail,
                    markable=True,
                    sizes={"unique": unique, "shared": shared, "attributed": round(attributed)},
                    load=functools.partial(self.layers_of, image.id),
                )
            )
        return nodes

    def layers_of(self, image_id: str) -> list[Node]:
        """An image's layers, bottom to top, one row each (:mod:`layershare.browse.layers`), the history
        entries that made no layer among them (hidden unless asked), and what else the image holds."""
        image = next(i for i in self.state.images if i.id == image_id)
        held = [k for k in image.holds if k in self.images_of]
        rows = self.layer_index.rows(image_id, held)
        return [self._layer_node(r, image_id) for r in rows if r.units or r.counted_above or r.empty]

    def layer_nodes(self) -> list[Node]:
        """Every stored layer once (the global ``layers`` view), then one row of what images hold beside
        their layers: manifests, configs, the classic builder's step snapshots."""
        nodes: dict[str, Node] = {}
        shown: set[str] = set()
        rest: list[str] = []
        for image in self.state.images:
            held = [k for k in image.holds if k in self.images_of and k not in shown]
            for row in self.layer_index.rows(image.id, held, shown):
                shown.update(row.units)
                if row.chain_id == OTHER:
                    rest += row.units
                elif not row.empty and row.chain_id not in nodes and (row.units or row.counted_above):
                    nodes[row.chain_id] = self._layer_node(row, None, order=len(nodes))
        if rest:
            nodes[OTHER] = self._other_node("layers:other", rest, len(nodes))
        return list(nodes.values())

    def _other_node(self, key: str, units: list[str] | tuple[str, ...], order: int) -> Node:
        """What images hold beside their layers (manifests, configs, step snapshots): one row to open."""
        total = sum(self.state.units[k].bytes for k in units)
        children = [self._unit_node(k) for k in units]
        return Node(key, "other", other_text(units), total, METADATA, children=children, order=order)

    def _layer_node(self, row: LayerRow, image_id: str | None, order: int | None = None) -> Node:
        units = self.state.units
        position = row.position if order is None else order
        if row.empty:
            return Node(
                f"empty:{image_id}:{row.position}", "empty", row.instruction, 0, "no layer", order=position
            )
        if row.chain_id == OTHER:
            return self._other_node(f"other:{image_id}", row.units, position)
        every = (*row.units, *row.counted_above)
        first = next((k for k in every if stored_chain(k)), every[0])  # the layer or snapshot, else the blob
        others = [i for i in self.images_of.get(first, ()) if i != image_id]
        found = parts(row.units, {k: units[k].bytes for k in every}, row.counted_above)
        detail = [short_id(row.chain_id), self._holders(others, image_id is not None), figures(found)]
        owner = image_id or self.images_of[first][0]
        return Node(
            f"layer:{row.chain_id}" if image_id is None else f"layer:{image_id}:{row.chain_id}",
            "layer",
            row.instruction,
            sum(units[k].bytes for k in row.units),
            " · ".join(d for d in detail if d),
            load=functools.partial(self.files_of, owner, every, row.chain_id),
            order=position,
            parts=found,
        )

    def _holders(self, others: list[str], in_image: bool) -> str:
        """Who else holds a layer: ``6 others: app-one:1, app-two:1, app-three:1 …`` (the count first, so
        a narrow screen keeps it)."""
        if not others:
            return "only here" if in_image else ""
        names = ", ".join(self.names[i] for i in others[:3]) + (" …" if len(others) > 3 else "")
        if in_image:
            return f"{len(others)} other{'s' if len(others) > 1 else ''}: {names}"
        return f"{len(others)} image{'s' if len(others) > 1 else ''}: {names}"

    def _unit_node(self, key: str) -> Node:
        """One stored unit as it is: a manifest's blob, a step snapshot."""
        unit = self.state.units[key]
        kind, _, ident = key.partition(":")
        holders = self.images_of.get(key, [])
        return Node(
            f"unit:{key}",
            "unit",
            f"{kind} {short_id(ident.rsplit('/', 1)[-1]) if len(ident) >= 12 else ident}",
            unit.bytes,
            self._holders(holders, False),
        )

    def files_of(self, image_id: str, keys: tuple[str, ...], chain_id: str) -> list[Node]:
        """A layer's largest files: walked in the layer store where readable, else from the export."""
        found = largest_files([p for k in keys for p in self.paths.get(k, ())])
        if found is None and self.read_files is not None:
            found = heapq.nlargest(FILES_SHOWN, self.read_files(image_id, chain_id), key=lambda f: f[1])
        if found is None:
            return [Node(f"file:{chain_id}:", "note", "files: not readable from here", None)]
        return [Node(f"file:{chain_id}:{path}", "file", path, size) for path, size in found]

    def container_nodes(self) -> list[Node]:
        report = self.disk
        logs = {c.id: c.log for c in report.snapshot.containers} if report is not None else {}
        nodes = []
        for c in self.state.containers:
            log = logs.get(c.id)
            detail = c.state + (f" · log {human_size(log.bytes)}" if log is not None and log.bytes else "")
            detail += f" · {self.names.get(c.image_id, c.image)}"
            nodes.append(
                Node(f"container:{c.id}", "container", c.name, c.size_rw_bytes, detail, markable=True)
            )
        return nodes

    def volume_nodes(self) -> list[Node]:
        nodes = []
        states = {b.state_volume for b in self.state.builders}
        for v in self.state.volumes:
            if v.name in states:
                continue  # a builder's (under builders)
            users = [c.name for c in self.state.containers if v.name in c.volumes]
            detail = ("used by " + ", ".join(users[:3])) if users else ("anonymous" if v.anonymous else "")
            nodes.append(Node(f"volume:{v.name}", "volume", v.name, v.bytes, detail, markable=True))
        return nodes

    def builder_nodes(self) -> list[Node]:
        """One row per buildx builder: its state volume's size, its records and what its GC will do;
        marking one is ``docker buildx prune --builder NAME -a`` (the status line says what it frees)."""
        from layershare.render.builders import gc_sentence

        nodes = []
        for b in self.state.builders:
            if b.records is None:
                detail = b.unread_why
            else:
                detail = f"{len(b.records)} records, {human_size(b.reclaimable_bytes or 0)} reclaimable"
                detail += f" · {gc_sentence(b)}" if gc_sentence(b) else ""
            state = "" if b.running else (" (stopped)" if b.container else " (no container)")
            nodes.append(Node(f"builder:{b.name}", "builder", f"{b.name}{state}", b.volume_bytes, detail,
                              markable=b.records is not None))  # fmt: skip
        return nodes

    def build_nodes(self) -> list[Node]:
        nodes = []
        for r in self.state.build_cache:
            detail = " · ".join(
                part
                for part in (
                    r.type,
                    "shared with images" if r.shared else "",
                    "in use" if r.in_use else "",
                    r.description[:60],
                )
                if part
            )
            nodes.append(Node(f"build:{r.id}", "build", r.id[:12], r.bytes, detail, markable=True))
        return nodes


def largest_files(paths: Iterable[str]) -> list[tuple[str, int]] | None:
    """The largest regular files under a layer's folders (its ``diff`` or ``fs`` when it has one), with
    their sizes; None when there is nothing readable."""
    roots = []
    for path in map(str, map(files_folder, paths)):
        if os.path.isdir(path) and os.access(path, os.R_OK | os.X_OK):
            roots.append(path)
    if not roots:
        return None
    sizes: list[tuple[str, int]] = []
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                full = os.path.join(folder, name)
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                if os.path.isfile(full) and not os.path.islink(full):
                    sizes.append(("/" + str(Path(full).relative_to(root)), st.st_size))
    return heapq.nlargest(FILES_SHOWN, sizes, key=lambda f: f[1])


def state_of_snapshot(snapshot: Snapshot) -> EngineState:
    """A node's images as a state to weigh marks on (containerd without dockerd: no containers, no
    removal rules): each layer's snapshot and each blob a unit, held by the images that use them; a
    blob images of namespaces not read use too is held by them as well."""
    units: dict[str, StoredUnit] = {}
    others: dict[str, tuple[str, ...]] = {}
    for layer in snapshot.layers:
        key = f"snapshot:{layer.chain_id}"
        units[key] = StoredUnit(key, "snapshot", layer.size_bytes, None)
    for blob in snapshot.blobs:
        key = f"blob:{blob.digest}"
        units[key] = StoredUnit(key, "blob", blob.size_bytes, None)
        if blob.users_elsewhere:
            others[f"images of other namespaces ({key})"] = (key,)
    images = tuple(
        EngineImage(
            id=image.id,
            tags=image.tags,
            created=0.0,
            holds=tuple(
                dict.fromkeys(
                    [f"snapshot:{c}" for c in image.chain_ids] + [f"blob:{d}" for d in image.blob_digests]
                )
            ),
        )
        for image in snapshot.images
    )
    return EngineState(snapshot.engine, images, (), (), (), units, others, disk_readable=False)
