"""The model: plain, frozen, typed data that every source produces.

No pandas and no I/O here. A snapshot holds what one engine (or a recorded
file) says about its images and the layers they are built from; everything
downstream (index, analysis, render) reads only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from layershare.model.dupes import StoredCopy

ImageStore = Literal["graphdriver", "containerd", "archive", "unknown"]

# The only labels an image keeps (``Image.labels``): other label values may hold secrets.
OCI_LABEL_PREFIX = "org.opencontainers.image."
# In a snapshot's notes: some images' layer chains are unknown (a saved report written before
# images had ``chain_ids``); they compare image by image only.
NO_CHAIN_NOTE = "no chain_ids"


def version_tuple(text: str) -> tuple[int, int]:
    """``"29.7.2"`` -> ``(29, 7)``, ``"1.41"`` -> ``(1, 41)``: an engine or API version, to compare;
    ``(0, 0)`` when it cannot be read."""
    try:
        major, minor = (int(part) for part in [*text.split("."), "0"][:2])
    except ValueError:
        return (0, 0)
    return major, minor


@dataclass(frozen=True)
class EngineInfo:
    """The engine a snapshot came from."""

    host: str
    version: str
    api_version: str
    image_store: ImageStore
    storage_driver: str
    os: str = ""
    arch: str = ""
    root_dir: str = ""
    # The containerd namespaces read, where containerd's own files were the source (``k8s.io``, ...).
    namespaces: tuple[str, ...] = ()

    @property
    def shares_with_intermediates(self) -> bool:
        """Whether the engine's SHARED SIZE counts the classic builder's intermediate images as users.

        Seen on real engines: Engine 20.10 counts only listed images, Engine 26.1 (graphdriver store)
        every image. The containerd store hides intermediate images when it counts users (moby's
        ``daemon/containerd/image_list.go``, ``hideIntermediate``, at 26.1, 28.5 and 29.7; measured on
        29.7). Versions between are taken to behave like 26.1 (not tested).
        """
        return self.image_store != "containerd" and version_tuple(self.version) >= (23, 0)


class HistoryEntry(NamedTuple):
    """One entry of an image's build history, oldest first (a named tuple: hosts hold many).

    ``created_by`` is already redacted unless the user asked for values.
    ``history_id`` is the image ID the engine lists beside the entry, or None
    where it says ``<missing>``. ``makes_layer`` is the image configuration's
    own answer (its ``empty_layer`` flag, inverted) where the source read the
    configuration; None where only the history API was asked, which does not say.
    """

    created: int
    created_by: str
    size_bytes: int
    comment: str = ""
    history_id: str | None = None
    makes_layer: bool | None = None


@dataclass(frozen=True)
class Layer:
    """One stored layer, keyed by chain ID (the engine stores a layer once per chain).

    ``size_exact`` is False when the size could not be pinned down from the
    engine's answers; ``created_by_exact`` likewise for the instruction.
    On the containerd store ``size_bytes`` is the unpacked snapshot and
    ``blob_bytes`` the content blob the layer came as (None elsewhere).
    """

    chain_id: str
    diff_id: str
    parent_chain_id: str | None
    size_bytes: int
    created_by: str
    comment: str = ""
    size_exact: bool = True
    created_by_exact: bool = True
    blob_bytes: int | None = None


@dataclass(frozen=True)
class Image:
    """One image (one image ID), with its layer chain oldest first.

    ``size_bytes`` is the engine's own figure (the SIZE of ``docker image ls``).
    ``intermediate`` marks untagged images with children, which
    ``docker image ls`` hides unless ``--all`` is given.
    ``labels`` keeps only the OCI ``org.opencontainers.image.*`` labels;
    other label values are never stored. On the containerd store,
    ``blob_digests`` are the content blobs the image uses (index, manifests,
    configs, layer blobs) and ``platforms`` the platforms present locally.
    """

    id: str
    tags: tuple[str, ...]
    digests: tuple[str, ...]
    created: str
    size_bytes: int
    diff_ids: tuple[str, ...]
    chain_ids: tuple[str, ...]
    history: tuple[HistoryEntry, ...]
    parent_id: str | None = None
    containers: int = 0
    intermediate: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    blob_digests: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    # The engine's own SHARED SIZE, where it is exact and the store's files are not read (Engine 29.6+'s
    # containerd store): the image's shared and unique bytes are then the engine's.
    engine_shared_bytes: int | None = None
    # The classic builder's step snapshots in the image's chain (containerd store), as ``Snapshot.steps`` names them.
    step_snapshots: tuple[str, ...] = ()
    # CONTENT SIZE of ``docker image ls`` (CLI 29, containerd store, API 1.47+): the content blobs of the
    # image's available manifests; None where the engine does not say (a graphdriver store, older APIs).
    content_bytes: int | None = None
    # The content blob each layer came as, aligned with ``chain_ids`` (the containerd store, where the
    # image's manifest is read and lists one blob per layer); empty elsewhere.
    layer_blobs: tuple[str, ...] = ()

    @property
    def dangling(self) -> bool:
        """True for an untagged image that no other image is built on."""
        return not self.tags and not self.intermediate

    @property
    def references(self) -> tuple[str, ...]:
        """Tags, else digests, else ``<none>``: what ``docker image ls`` shows."""
        if self.tags:
            return self.tags
        if self.digests:
            return self.digests
        return ("<none>",)


@dataclass(frozen=True)
class Blob:
    """A content blob of the containerd store, weighed as ``du`` counts it.

    ``kept`` is a blob containerd keeps for an image through a garbage-collection label
    (the classic builder's container configuration); it goes when the image goes.
    ``users_elsewhere`` counts images outside the snapshot that use it too (those of
    containerd namespaces not read): removing the snapshot's images does not free it.
    """

    digest: str
    size_bytes: int
    kind: Literal["index", "manifest", "config", "layer", "kept", "step"]
    users_elsewhere: int = 0


@dataclass(frozen=True)
class Snapshot:
    """What one source said: the engine, its images and every stored layer.

    ``notes`` are plain sentences the report must show (estimates, parts of
    the disk a store keeps that are not counted, images skipped). ``blobs``
    are the containerd store's content blobs the images use; ``other_bytes``
    what that store holds for no image (containers' writable layers, leftovers);
    ``duplicate_bytes`` what containerd keeps twice because a layer is unpacked
    in more than one namespace (every copy of its snapshot but one).
    """

    engine: EngineInfo
    images: tuple[Image, ...]
    layers: tuple[Layer, ...]
    notes: tuple[str, ...] = field(default=())
    collected_at: str = ""
    blobs: tuple[Blob, ...] = ()
    other_bytes: int = 0
    duplicate_bytes: int = 0
    # The snapshots inside the images' chains that are no layer's (the classic builder's steps on the
    # containerd store, ``kind`` "step", ``digest`` the snapshot's name), where LayersSize counts them.
    steps: tuple[Blob, ...] = ()
    # Where sizes are the engine's measure: the images' blobs and snapshots as du counts them.
    disk_bytes: int | None = None
    # The engine's own LayersSize, where it is exact and the store's files are not read: physical bytes.
    engine_layers_bytes: int | None = None

    @property
    def stored_bytes(self) -> int:
        """Every layer, content blob and step snapshot of every image here, each once: what the image
        store holds for them (on Engine 29.6+'s containerd store, its ``LayersSize``)."""
        layers = sum(layer.size_bytes for layer in self.layers)
        return (
            layers + sum(blob.size_bytes for blob in self.blobs) + sum(step.size_bytes for step in self.steps)
        )


FileKind = Literal["file", "dir", "symlink", "hardlink", "whiteout", "opaque", "other"]


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One entry of a layer's tar: a path (no leading ``/``), its kind and its bytes.

    ``size_bytes`` counts what the entry adds to the layer on disk: a regular
    file's size, a symlink's target length, 0 for everything else (a hard
    link's bytes belong to the file it links to). A whiteout's ``path`` is the
    path it deletes; an opaque entry's ``path`` is the directory it empties.
    """

    path: str
    kind: FileKind
    size_bytes: int = 0


@dataclass(frozen=True)
class LayerContent:
    """The files one layer holds, in archive order, keyed by the layer's diff ID."""

    diff_id: str
    size_bytes: int
    files: tuple[FileEntry, ...]
    # Its stored copies with their content digests, where the reader was asked to hash (``dupes``).
    copies: tuple[StoredCopy, ...] = ()


@dataclass(frozen=True)
class ImageContent:
    """One image's layers as read from an image archive, base layer first.

    ``layout`` is ``"docker"`` (``manifest.json`` + ``layer.tar``) or
    ``"oci"`` (OCI image layout: ``index.json`` + ``blobs/``). ``history`` is
    the configuration's history, oldest first, instructions as written (not
    masked); ``layer_entries[k]`` is the history entry that made layer ``k``
    (from the ``empty_layer`` flags), empty when the history does not fit.
    ``labels`` keeps only the OCI ``org.opencontainers.image.*`` labels.
    """

    config_digest: str
    tags: tuple[str, ...]
    diff_ids: tuple[str, ...]
    layers: tuple[LayerContent, ...]
    layout: Literal["docker", "oci"]
    created: str = ""
    platform: str = ""
    history: tuple[HistoryEntry, ...] = ()
    layer_entries: tuple[int, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
