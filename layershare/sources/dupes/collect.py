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

import fnmatch
import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layershare.cache import engine_key
from layershare.errors import UsageError
from layershare.ids import chain_ids, split_namespace
from layershare.model import DupesImage, DupesInput, ImageContent, LayerFiles, Snapshot
from layershare.sources.choice import SourceChoice, open_engine
from layershare.sources.dupes.cache import LayerFilesCache
from layershare.sources.dupes.folders import read_folders
from layershare.sources.stores import containerd_meta

if TYPE_CHECKING:
    from layershare.sources.engine import EngineSource

Progress = Callable[[int, int], None]
FOLDERS = "the layer store's folders"
EXPORT = "the engine's export"


def collect(choice: SourceChoice, patterns: Sequence[str], progress: Progress | None = None) -> DupesInput:
    """The images ``patterns`` name (every image when none) and the files of their stored layers."""
    if choice.archives:
        return _from_contents(
            ", ".join(choice.archives), "the archives", _archives(choice.archives), patterns
        )
    if choice.recording:
        raise UsageError("dupes reads files: a recording holds none (give an engine or --archive)")
    if choice.containerd_root:
        return _from_node(choice, patterns, progress)
    engine = open_engine(choice)
    snapshot = engine.snapshot()
    images = choose(_images_of(snapshot), patterns)
    info = engine.lists()["info"]
    folders = _engine_folders(engine, info, snapshot, images)
    if folders is not None:
        cache = LayerFilesCache(choice.cache_dir, f"folders-{engine_key(info)}")
        return DupesInput(engine.where, FOLDERS, images, read_folders(folders, cache, progress))
    return _exported(engine, snapshot, images, LayerFilesCache(choice.cache_dir, "tar"))


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


def choose(images: Sequence[DupesImage], patterns: Sequence[str]) -> tuple[DupesImage, ...]:
    """The images a pattern names: a tag or a glob of tags, or an image ID (or its first characters)."""
    if not patterns:
        return tuple(images)
    chosen = []
    for image in images:
        ident = image.id.removeprefix("sha256:")
        if any(
            fnmatch.fnmatchcase(tag, p)
            or tag == p
            or (len(p) >= 4 and ident.startswith(p.removeprefix("sha256:")))
            for p in patterns
            for tag in (*image.tags, "")
        ):
            chosen.append(image)
    if not chosen:
        raise UsageError(f"no image matches {', '.join(patterns)}")
    return tuple(chosen)


def _images_of(snapshot: Snapshot) -> list[DupesImage]:
    return [DupesImage(i.id, i.tags, i.chain_ids) for i in snapshot.images]


def _engine_folders(
    engine: EngineSource, info: Mapping[str, Any], snapshot: Snapshot, images: Sequence[DupesImage]
) -> dict[str, tuple[str, Path | None, Path | None]] | None:
    """Each stored layer's folder, where this process may read the engine's layer store (root on its
    host); None where it may not (the export is read then)."""
    from layershare.sources.holdings.store import EngineStore

    if engine.over_ssh:
        return None
    store = EngineStore(info, str(info.get("DockerRootDir") or ""))
    if not store.readable:
        return None
    diffs = {la.chain_id: la.diff_id for la in snapshot.layers}
    wanted = list(dict.fromkeys(c for i in images for c in i.chain_ids))
    if store.containerd:
        if store.containerd_root is None:
            return None
        found = _snapshot_folders(store.containerd_root, store.driver, {containerd_meta.NAMESPACE})
        return {c: (diffs.get(c, ""), found.get((containerd_meta.NAMESPACE, c)), None) for c in wanted}
    layerdb = Path(store.data_root) / "image" / store.driver / "layerdb" / "sha256"
    folders: dict[str, tuple[str, Path | None, Path | None]] = {}
    for c in wanted:  # the layer's folder, and its tar-split (each file's CRC-64)
        split = layerdb / c.removeprefix("sha256:") / "tar-split.json.gz"
        folders[c] = (diffs.get(c, ""), _graphdriver_folder(Path(store.data_root), store.driver, c), split)
    if wanted and all(folder is None for _, folder, _ in folders.values()):
        return None  # not this engine's layer store (rootless, another data root): the export then
    return folders


def _graphdriver_folder(root: Path, driver: str, chain: str) -> Path | None:
    try:
        cache_id = root / "image" / driver / "layerdb" / "sha256" / chain.removeprefix("sha256:") / "cache-id"
        name = cache_id.read_text().strip()
    except OSError:
        return None
    folder = root / "vfs" / "dir" / name if driver == "vfs" else root / driver / name / "diff"
    return folder if folder.is_dir() else None


def _snapshot_folders(root: Path, snapshotter: str, namespaces: set[str]) -> dict[tuple[str, str], Path]:
    """Each committed snapshot of the namespaces, by (namespace, name): its ``fs`` folder."""
    folder = root / f"io.containerd.snapshotter.v1.{snapshotter}"
    return {
        (r.namespace, r.name): folder / "snapshots" / str(r.number) / "fs"
        for r in containerd_meta.read_snapshot_records(folder).values()
        if r.committed and r.namespace in namespaces
    }


def _from_node(choice: SourceChoice, patterns: Sequence[str], progress: Progress | None) -> DupesInput:
    from layershare.sources.choice import open_source
    from layershare.sources.containerd import ContainerdSource

    source = open_source(choice)
    assert isinstance(source, ContainerdSource)
    _, chosen, snapshotter = source.opened()
    snapshot = source.snapshot()
    images = choose(_images_of(snapshot), patterns)
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
    source: str, read_from: str, contents: Sequence[ImageContent], patterns: Sequence[str]
) -> DupesInput:
    """Stored layers from archives: each image's chain, each chain the files of its diff ID (an archive
    holds every layer its images name, or it is refused as it is read)."""
    by_diff = {layer.diff_id: layer for content in contents for layer in content.layers}
    images = choose(
        [DupesImage(c.config_digest, c.tags, tuple(chain_ids(list(c.diff_ids)))) for c in contents], patterns
    )
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
