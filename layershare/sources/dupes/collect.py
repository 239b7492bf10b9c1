"""What ``layershare dupes`` reads of a source: the images chosen and the files of each stored layer.

- A live engine as root: each stored layer's folder (a graphdriver layer's ``diff``, found through its
  ``layerdb`` ``cache-id``; a containerd snapshot's ``fs``, found by its name, the chain ID).
- A live engine without its files (the ``docker`` group, a remote engine): the engine's export of the
  images (``GET /images/get``, in batches), each layer's tar hashed as it streams.
- Image archives and OCI layouts: read the same way.
- A node's containerd root: its snapshots' folders, in the namespaces read.

A layer is read once per diff ID from an export or an archive, and stored once per chain ID: the same
diff ID on two parents is two stored layers with the same files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from layershare.cache import engine_key
from layershare.errors import UsageError
from layershare.ids import chain_ids, split_namespace, stored_chain
from layershare.model import DupesImage, DupesInput, EngineState, ImageContent, LayerFiles, Snapshot
from layershare.sources.choice import SourceChoice, open_engine
from layershare.sources.dupes.cache import LayerFilesCache
from layershare.sources.dupes.folders import files_folder, read_folders
from layershare.sources.stores import containerd_meta

if TYPE_CHECKING:
    from layershare.sources.engine import EngineSource

Progress = Callable[[int, int], None]
FOLDERS = "the layer store's folders"
EXPORT = "the engine's export"


Select = Callable[[Sequence[DupesImage]], Sequence[DupesImage]]


def collect(choice: SourceChoice, select: Select = tuple, progress: Progress | None = None) -> DupesInput:
    """The images ``select`` keeps (every image by default) and the files of their stored layers."""
    if choice.archives:
        return _from_contents(", ".join(choice.archives), "the archives", _archives(choice.archives), select)
    if choice.recording:
        raise UsageError("dupes reads files: a recording holds none (give an engine or --archive)")
    if choice.containerd_root:
        return _from_node(choice, select, progress)
    from layershare.sources.holdings.reader import HoldingsReader

    engine = open_engine(choice)
    reader = HoldingsReader(engine)  # what free and disk read: the units each image holds, their folders
    state = reader.state(with_df=False)
    assert reader.snapshot is not None
    images = tuple(select(_images_of(reader.snapshot)))
    if reader.data_root is None:  # the store's files are not readable from here: the export
        return _exported(engine, reader.snapshot, images, LayerFilesCache(choice.cache_dir, "tar"))
    folders = _store_folders(state, reader.paths, reader.snapshot, images, Path(reader.data_root))
    cache = LayerFilesCache(choice.cache_dir, f"folders-{engine_key(engine.lists()['info'])}")
    return DupesInput(engine.where, FOLDERS, images, read_folders(folders, cache, progress))


def _store_folders(
    state: EngineState,
    paths: Mapping[str, tuple[str, ...]],
    snapshot: Snapshot,
    images: Sequence[DupesImage],
    data_root: Path,
) -> dict[str, tuple[str, Path | None, Path | None]]:
    """Each stored layer's (diff ID, the folder of its files, its tar-split on a graphdriver store):
    the folders the engine's holdings name for the units that store the images' chains."""
    folder_of: dict[str, Path] = {}
    for image in state.images:
        for key in image.holds:
            chain = stored_chain(key)
            if chain is not None and paths.get(key):
                folder_of.setdefault(chain, files_folder(paths[key][0]))
    diffs = {la.chain_id: la.diff_id for la in snapshot.layers}
    graphdriver = state.engine.image_store != "containerd"
    layerdb = data_root / "image" / state.engine.storage_driver / "layerdb" / "sha256"
    return {
        c: (
            diffs.get(c, ""),
            folder_of.get(c),
            layerdb / c.removeprefix("sha256:") / "tar-split.json.gz" if graphdriver else None,
        )
        for c in dict.fromkeys(c for i in images for c in i.chain_ids)
    }


def _exported(
    engine: EngineSource, snapshot: Snapshot, images: Sequence[DupesImage], cache: LayerFilesCache
) -> DupesInput:
    """The images' layers from the engine's export: only the images a layer of which is not cached yet."""
    from layershare.sources.engine.export import export_contents

    diffs = {la.chain_id: la.diff_id for la in snapshot.layers}
    known = {d: cache.get(d) for d in dict.fromkeys(diffs.get(c, "") for i in images for c in i.chain_ids)}
    missing = [i.id for i in images if any(known.get(diffs.get(c, "")) is None for c in i.chain_ids)]
    contents = export_contents(engine, missing, hash_files=True) if missing else []
    for content in contents:
        for layer in content.layers:
            if known.get(layer.diff_id) is None:
                known[layer.diff_id] = layer.copies
                cache.put(layer.diff_id, layer.copies)
    layers: dict[str, LayerFiles] = {}
    for chain in dict.fromkeys(c for i in images for c in i.chain_ids):
        diff = diffs.get(chain, "")
        copies = known.get(diff)
        layers[chain] = (
            LayerFiles(chain, diff, copies)
            if copies is not None
            else LayerFiles(chain, diff, (), unread="not in the export")
        )
    return DupesInput(engine.where, EXPORT, tuple(images), layers)


def _images_of(snapshot: Snapshot) -> list[DupesImage]:
    return [DupesImage(i.id, i.tags, i.chain_ids, i.digests) for i in snapshot.images]


def _snapshot_folders(root: Path, snapshotter: str, namespaces: set[str]) -> dict[tuple[str, str], Path]:
    """Each committed snapshot of the namespaces, by (namespace, name): its ``fs`` folder."""
    folder = root / f"io.containerd.snapshotter.v1.{snapshotter}"
    return {
        (r.namespace, r.name): folder / "snapshots" / str(r.number) / "fs"
        for r in containerd_meta.read_snapshot_records(folder).values()
        if r.committed and r.namespace in namespaces
    }


def _from_node(choice: SourceChoice, select: Select, progress: Progress | None) -> DupesInput:
    from layershare.sources.choice import open_source
    from layershare.sources.containerd import ContainerdSource

    source = open_source(choice)
    assert isinstance(source, ContainerdSource)
    _, chosen, snapshotter = source.opened()
    snapshot = source.snapshot()
    images = tuple(select(_images_of(snapshot)))
    found = _snapshot_folders(source.root, snapshotter, set(chosen))
    diffs = {la.chain_id: la.diff_id for la in snapshot.layers}
    folders: dict[str, tuple[str, Path | None, Path | None]] = {}
    for chain in dict.fromkeys(c for i in images for c in i.chain_ids):
        namespace, name = split_namespace(chain)
        folders[chain] = (diffs.get(chain, ""), found.get((namespace or chosen[0], name)), None)
    cache = LayerFilesCache(
        choice.cache_dir, "node-" + hashlib.sha256(str(source.root.resolve()).encode()).hexdigest()[:16]
    )
    return DupesInput(str(source.root), FOLDERS, images, read_folders(folders, cache, progress))


def _archives(paths: Sequence[str]) -> list[ImageContent]:
    from layershare.errors import ArchiveError
    from layershare.sources.archive.reader import read_archive, read_layout_folder

    found: list[ImageContent] = []
    for path in paths:
        where = Path(path)
        if where.is_dir():
            found += read_layout_folder(where, hash_files=True)
            continue
        try:
            with where.open("rb") as f:
                found += read_archive(f, name=str(where), hash_files=True)
        except OSError as e:
            raise ArchiveError(f"cannot read {where}: {e.strerror or e}") from e
    return found


def _from_contents(
    source: str, read_from: str, contents: Sequence[ImageContent], select: Select
) -> DupesInput:
    """Stored layers from archives: each image's chain, each chain the files of its diff ID (an archive
    holds every layer its images name, or it is refused as it is read)."""
    by_diff = {layer.diff_id: layer for content in contents for layer in content.layers}
    images = tuple(select([DupesImage(c.config_digest, c.tags, chain_ids(c.diff_ids)) for c in contents]))
    diffs = {
        chain: diff
        for c in contents
        for chain, diff in zip(chain_ids(list(c.diff_ids)), c.diff_ids, strict=True)
    }
    layers = {
        chain: LayerFiles(chain, diffs[chain], by_diff[diffs[chain]].copies)
        for i in images
        for chain in i.chain_ids
    }
    return DupesInput(source, read_from, tuple(images), layers)
