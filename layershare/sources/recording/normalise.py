"""Engine answers to the model: the one place a recording becomes a :class:`Snapshot`.

A recording (:mod:`layershare.sources.answers`) is what
:class:`~layershare.sources.engine.EngineSource` fetched: the image list, each
image's RootFS and history, the containers, and (when the engine's layer store
was readable) the size of every stored layer. Turning it into a snapshot is
pure, so the same code runs on a live engine and on a file recorded from one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from layershare.errors import SnapshotError
from layershare.ids import chain_ids, short_id
from layershare.model import (
    OCI_LABEL_PREFIX,
    Blob,
    EngineInfo,
    HistoryEntry,
    Image,
    ImageStore,
    Layer,
    Snapshot,
    version_tuple,
)
from layershare.sources.answers import RECORDING_SCHEMA, content_size, is_containerd_store
from layershare.sources.history import HistoryMismatch, LayerAssignment, map_history
from layershare.sources.recording.exported import EXPORTED_NOTE, store_from_export
from layershare.sources.stores.measure import counts_as_engine, layers_size_rule

_NONE_TAG = "<none>:<none>"
_NONE_DIGEST = "<none>@<none>"


def engine_info_from(info: Mapping[str, Any], version: Mapping[str, Any], host: str) -> EngineInfo:
    """Build :class:`EngineInfo` from ``GET /info`` and ``GET /version`` answers."""
    store: ImageStore = "containerd" if is_containerd_store(info) else "graphdriver"
    return EngineInfo(
        host=host,
        version=str(version.get("Version") or info.get("ServerVersion") or ""),
        api_version=str(version.get("ApiVersion") or ""),
        image_store=store,
        storage_driver=str(info.get("Driver") or ""),
        os=str(info.get("OSType") or version.get("Os") or ""),
        arch=str(info.get("Architecture") or version.get("Arch") or ""),
        root_dir=str(info.get("DockerRootDir") or ""),
    )


def _history_entries(raw: list[Mapping[str, Any]]) -> tuple[HistoryEntry, ...]:
    # The API lists history newest first; the model keeps it oldest first.
    out = []
    for h in reversed(raw):
        hid = h.get("Id") or ""
        out.append(
            HistoryEntry(
                created=int(h.get("Created") or 0),
                created_by=str(h.get("CreatedBy") or ""),
                size_bytes=int(h.get("Size") or 0),
                comment=str(h.get("Comment") or ""),
                history_id=None if hid in ("", "<missing>") else str(hid),
                makes_layer=None if h.get("EmptyLayer") is None else not h["EmptyLayer"],
            )
        )
    return tuple(out)


class _Resolver:
    """Map every image's history onto its layers, sharing what one image proves with others."""

    def __init__(
        self,
        histories: Mapping[str, tuple[HistoryEntry, ...]],
        diff_ids: Mapping[str, tuple[str, ...]],
        chains: Mapping[str, tuple[str, ...]],
        layer_store: Mapping[str, int],
    ) -> None:
        self.histories = histories
        self.diff_ids = diff_ids
        self.chains = chains
        self.layer_store = layer_store
        self.by_top_chain: dict[str, list[str]] = defaultdict(list)
        for image_id, chain in chains.items():
            if chain:
                self.by_top_chain[chain[-1]].append(image_id)

    def _layers_through(self, image_id: str) -> dict[int, int]:
        """Layer counts at history entries, from intermediate and base images."""
        entries = self.histories[image_id]
        through: dict[int, int] = {}
        for i, entry in enumerate(entries):
            if entry.history_id and entry.history_id in self.diff_ids:
                through[i] = len(self.diff_ids[entry.history_id])
        chain = self.chains[image_id]
        for k, chain_id in enumerate(chain[:-1]):
            for other in self.by_top_chain.get(chain_id, ()):
                theirs = self.histories[other]
                h = len(theirs)
                if 0 < h <= len(entries) and all(
                    (a.created, a.created_by) == (b.created, b.created_by)
                    for a, b in zip(theirs, entries[:h], strict=False)
                ):
                    through[h - 1] = k + 1
        return through

    def resolve(self) -> tuple[dict[str, tuple[LayerAssignment, ...]], list[str]]:
        """Assign entries to layers for every image; return assignments and problems."""
        known_by_diff: dict[str, int] = {}
        result: dict[str, tuple[LayerAssignment, ...]] = {}
        problems: list[str] = []
        pending = sorted(self.histories, key=lambda i: len(self.diff_ids[i]))
        for _round in range(4):
            still: list[str] = []
            for image_id in pending:
                chain = self.chains[image_id]
                diffs = self.diff_ids[image_id]
                entries = self.histories[image_id]
                if entries and all(e.makes_layer is not None for e in entries):
                    try:  # the configuration said which entries made layers: exact
                        result[image_id] = assigned = map_history(entries, len(diffs))
                    except HistoryMismatch:
                        pass
                    else:
                        for a, d in zip(assigned, diffs, strict=True):
                            known_by_diff.setdefault(d, a.size_bytes)
                        continue
                sizes = {k: self.layer_store[c] for k, c in enumerate(chain) if c in self.layer_store}
                for k, d in enumerate(diffs):
                    if k not in sizes and d in known_by_diff:
                        sizes[k] = known_by_diff[d]
                try:
                    assigned = map_history(
                        self.histories[image_id],
                        len(diffs),
                        layers_through=self._layers_through(image_id),
                        known_sizes=sizes,
                    )
                except HistoryMismatch:
                    try:  # facts from other images may be what does not fit; retry without them
                        assigned = map_history(self.histories[image_id], len(diffs))
                    except HistoryMismatch as e:
                        problems.append(f"{short_id(image_id)}: {e}")
                        continue
                result[image_id] = assigned
                exact = all(a.size_exact for a in assigned)
                for a, d in zip(assigned, diffs, strict=True):
                    if a.size_exact:
                        known_by_diff.setdefault(d, a.size_bytes)
                if not exact:
                    still.append(image_id)
            if len(still) == len(pending):
                break
            pending = still
        return result, problems


def snapshot_from_recording(recording: Mapping[str, Any]) -> Snapshot:
    """Turn a recording (live or loaded from a file) into a :class:`Snapshot`."""
    if recording.get("schema") != RECORDING_SCHEMA:
        raise SnapshotError(
            f"not a layershare recording (schema {recording.get('schema')!r}, expected {RECORDING_SCHEMA!r})"
        )
    try:
        return _build(recording)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise SnapshotError(f"malformed recording: {type(e).__name__}: {e}") from e


def _build(recording: Mapping[str, Any]) -> Snapshot:
    engine = engine_info_from(recording["info"], recording["version"], recording.get("host", ""))
    summaries: list[Mapping[str, Any]] = recording["images"]
    inspects: Mapping[str, Mapping[str, Any]] = recording["inspect"]
    histories_raw: Mapping[str, list[Mapping[str, Any]]] = recording["history"]
    layer_store: dict[str, int] = {str(k): int(v) for k, v in (recording.get("layer_store") or {}).items()}
    notes: list[str] = list(recording.get("notes") or [])

    # Sorted: engines list images in no fixed order, and the report must not depend on it.
    present = sorted(
        (s for s in summaries if s["Id"] in inspects and s["Id"] in histories_raw), key=lambda s: str(s["Id"])
    )
    parents = {s.get("ParentId") for s in present if s.get("ParentId")}
    containers = Counter(str(c.get("ImageID")) for c in recording.get("containers") or [])

    diff_ids = {s["Id"]: tuple(inspects[s["Id"]].get("RootFS", {}).get("Layers") or []) for s in present}
    chains = {i: chain_ids(d) for i, d in diff_ids.items()}
    histories = {s["Id"]: _history_entries(histories_raw[s["Id"]]) for s in present}
    store: Mapping[str, Any] = recording.get("content_store") or {}
    assignments, problems = _Resolver(
        histories, diff_ids, chains, {} if engine.image_store == "containerd" else layer_store
    ).resolve()
    if not store and recording.get("export_content") is not None and engine.image_store == "containerd":
        # As the docker group: the export's blobs, history's snapshots (:mod:`.exported`).
        weighed = {
            c: a.size_bytes for i, a_s in assignments.items() for a, c in zip(a_s, chains[i], strict=True)
        }
        store, found = store_from_export(
            recording["export_content"], chains, weighed, {str(s["Id"]): s for s in present}
        )
        notes += [EXPORTED_NOTE, *found]
    # Engine 29.6 and later count exactly the images' snapshots and content in LayersSize: weigh them in
    # the engine's measure there; elsewhere as du counts them (a recording before both were kept too).
    # Engine 28.2 to 29.5 count every snapshot and the images' content: the images' part in the engine's
    # measure too, and what no image uses (other_bytes) in it as well, so that the two add up to LayersSize.
    rule = layers_size_rule(engine.version)
    engine_measure = (
        engine.image_store == "containerd" and rule != "all_snapshots" and "snapshot_bytes" in store
    )
    every_snapshot = store.get("every_snapshot_bytes") if rule == "all_snapshots_and_content" else None
    blob_measure = "bytes" if engine_measure else "size"
    # Without the store's files, the engine's own figures where they are exact (Engine 29.6+).
    image_usage: Mapping[str, Any] = (
        (recording.get("image_usage") or {})
        if engine.image_store == "containerd" and not store and counts_as_engine(engine.version)
        else {}
    )
    engine_shared: Mapping[str, int] = image_usage.get("SharedSize") or {}
    if engine.image_store == "containerd":
        # Sizes on this store are snapshots weighed on disk (or in the engine's measure), not history's.
        weighed = store.get("snapshot_bytes" if engine_measure else "snapshots") or {}
        layer_store = {str(k): int(v) for k, v in weighed.items()}
    store_blobs: Mapping[str, Mapping[str, Any]] = {
        digest: blob
        for digest, blob in (store.get("blobs") or {}).items()
        # What only a label keeps (the classic builder's container config) is not in LayersSize.
        if not (engine_measure and blob.get("kind") == "kept")
    }
    store_images: Mapping[str, Mapping[str, Any]] = store.get("images") or {}

    layers: dict[str, Layer] = {}
    images: list[Image] = []
    inexact_images = 0
    for s in present:
        image_id = s["Id"]
        inspect = inspects[image_id]
        entries = histories[image_id]
        assigned = assignments.get(image_id)
        if assigned is None:
            notes.append(f"image {short_id(image_id)}: history does not match its layers; skipped")
            continue
        if not all(a.size_exact for a in assigned):
            inexact_images += 1
        chain = chains[image_id]
        objects = store_images.get(image_id) or {}
        layer_blobs = list(objects.get("layer_blobs") or [])
        for k, (a, c) in enumerate(zip(assigned, chain, strict=True)):
            entry = entries[a.entry_index]
            size = layer_store.get(c, a.size_bytes)
            size_exact = c in layer_store and (a.size_exact or not store.get("exported"))
            size_exact = size_exact or (a.size_exact and engine.image_store != "containerd")
            blob = store_blobs.get(layer_blobs[k]) if k < len(layer_blobs) else None
            new = Layer(
                blob_bytes=int(blob[blob_measure]) if blob else None,
                chain_id=c,
                diff_id=diff_ids[image_id][k],
                parent_chain_id=chain[k - 1] if k else None,
                size_bytes=size,
                created_by=entry.created_by,
                comment=entry.comment,
                size_exact=size_exact,
                created_by_exact=a.created_by_exact,
            )
            old = layers.get(c)
            if old is None or (new.size_exact, new.created_by_exact) > (
                old.size_exact,
                old.created_by_exact,
            ):
                layers[c] = new
        tags = tuple(t for t in (s.get("RepoTags") or []) if t != _NONE_TAG)
        digests = tuple(d for d in (s.get("RepoDigests") or []) if d != _NONE_DIGEST)
        labels = inspect.get("Config", {}).get("Labels") or {}
        images.append(
            Image(
                id=image_id,
                tags=tags,
                digests=digests,
                created=str(inspect.get("Created") or ""),
                size_bytes=int(s.get("Size") or 0),
                diff_ids=diff_ids[image_id],
                chain_ids=chain,
                history=entries,
                parent_id=s.get("ParentId") or None,
                containers=containers.get(image_id, 0),
                intermediate=not tags and not digests and image_id in parents,
                labels=tuple(
                    sorted((k, str(v)) for k, v in labels.items() if k.startswith(OCI_LABEL_PREFIX))
                ),
                blob_digests=tuple(d for d in objects.get("blobs") or () if d in store_blobs),
                engine_shared_bytes=engine_shared.get(image_id),
                step_snapshots=tuple(objects.get("steps") or ()) if engine_measure else (),
                platforms=tuple(objects.get("platforms") or ()),
                content_bytes=content_size(s),
                layer_blobs=tuple(layer_blobs) if len(layer_blobs) == len(chain) else (),
            )
        )
    for problem in problems:
        notes.append(f"image {problem}")
    if inexact_images:
        notes.append(
            f"{inexact_images} image(s) have zero-byte layers whose place in history the engine's "
            "answers leave open: their layer sizes are estimates (run as root on the engine's "
            "host, where layershare reads the layer store, for exact sizes)"
        )
    used = dict.fromkeys(d for image in images for d in image.blob_digests if d in store_blobs)
    blobs = tuple(
        Blob(digest=d, size_bytes=int(store_blobs[d][blob_measure]), kind=store_blobs[d]["kind"])
        for d in used
    )
    other_bytes = 0
    disk_bytes: int | None = None
    # The classic builder's step snapshots inside the images' chains: LayersSize counts them from 29.6.
    step_weights: Mapping[str, Mapping[str, int]] = (
        (store.get("step_snapshots") or {}) if engine_measure else {}
    )
    used_steps = dict.fromkeys(s for image in images for s in image.step_snapshots if s in step_weights)
    steps = tuple(Blob(digest=s, size_bytes=int(step_weights[s]["bytes"]), kind="step") for s in used_steps)
    if store.get("exported"):
        pass  # what no image uses and the disk's own figures need the store's files
    elif engine.image_store == "containerd" and store:
        every_blob: Mapping[str, Mapping[str, Any]] = store.get("blobs") or {}
        snapshots_du = {str(k): int(v) for k, v in (store.get("snapshots") or {}).items()}
        # What no image uses, as du counts it: containers' snapshots, leftovers, blobs no image reaches.
        other_bytes = (
            int(store.get("other_snapshot_bytes") or 0)
            - sum(int(step_weights[s]["size"]) for s in used_steps)
            + int(store.get("other_blob_bytes") or 0)
            + sum(int(every_blob[d]["size"]) for d in every_blob if d not in used)
            + sum(size for chain_id, size in snapshots_du.items() if chain_id not in layers)
        )
        if engine_measure and every_snapshot is not None:
            # LayersSize counts every snapshot: those no image stands on are the rest of it.
            other_bytes = (
                int(every_snapshot)
                - sum(int((store.get("snapshot_bytes") or {}).get(c, 0)) for c in layers)
                - sum(int(step_weights[s]["bytes"]) for s in used_steps)
            )
        if engine_measure:
            disk_bytes = (
                sum(int(every_blob[d]["size"]) for d in used)
                + sum(snapshots_du.get(c, 0) for c in layers)
                + sum(int(step_weights[s]["size"]) for s in used_steps)
            )
        notes.append(
            "containerd image store: each layer is kept twice, as its content blob and unpacked as a "
            "snapshot; physical bytes count every blob and snapshot once, "
            + (
                "in the engine's own measure (each snapshot's recorded usage, each blob's size), as its "
                "LayersSize does; layershare disk gives the allocated bytes on disk"
                + (
                    f". Engine {engine.version}'s LayersSize also counts every snapshot no image stands on "
                    "(containers' writable layers, BuildKit's): physical bytes plus the store bytes no image "
                    "uses, in the same measure here, equal it"
                    if every_snapshot is not None
                    else ""
                )
                if engine_measure
                else "as du counts them on disk (this engine's LayersSize counts "
                + (
                    "every snapshot and the images' content blobs"
                    if layers_size_rule(engine.version) == "all_snapshots_and_content"
                    else "only the snapshots, not the content blobs"
                )
                + ")"
            )
        )
    elif engine.image_store == "containerd" and image_usage:
        notes.append(
            "containerd image store: the store's files are not readable from here, so physical bytes and "
            "each image's shared and unique bytes are the engine's own (LayersSize, SHARED SIZE), exact "
            "but for the classic builder's step snapshots several images stand on, which the engine counts "
            "as each one's unique bytes, and for what an image's hidden parents (the classic builder's "
            "intermediate images, removed with it) hold alone, their manifests and configs, which the "
            "engine's unique bytes leave out; each layer's size is the history's figure (an estimate)"
        )
    elif engine.image_store == "containerd":
        notes.append(
            "containerd image store: the store's files are not readable from here, so content blobs are "
            "not counted and snapshot sizes are the engine's history figures (estimates); run as root "
            "on the engine's host for the disk's own figures"
        )
    if engine.image_store == "containerd" and engine.version and version_tuple(engine.version) < (29,):
        notes.append(
            f"Engine {engine.version}'s docker system df -v gives wrong per-image SHARED and UNIQUE sizes on "
            "the containerd store (moby#52476, fixed in Engine 29): compare with layershare's shared and "
            "unique bytes, not with those"
        )
    return Snapshot(
        engine=engine,
        images=tuple(images),
        layers=tuple(layers.values()),
        notes=tuple(notes),
        collected_at=str(recording.get("collected_at") or ""),
        blobs=blobs,
        other_bytes=other_bytes,
        steps=steps,
        disk_bytes=disk_bytes,
        engine_layers_bytes=int(image_usage["LayersSize"]) if image_usage else None,
    )
