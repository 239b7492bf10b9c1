"""The model: plain, frozen, typed data that every source produces; no pandas, no I/O.

- :mod:`~layershare.model.images`: what an engine (or a file) says of its images and layers;
- :mod:`~layershare.model.holdings`: an engine's containers, volumes, build cache and the stored
  units each of them and each image holds (what ``disk`` and ``free`` read);
- :mod:`~layershare.model.disk`: where the bytes under a data root went, and a saved disk;
- :mod:`~layershare.model.builders`: BuildKit's cache records and the buildx builders beside the engine;
- :mod:`~layershare.model.dupes`: the files each stored layer holds (what ``dupes`` reads).

Every name is importable from ``layershare.model`` itself.
"""

from layershare.model.builders import Builder, BuildRecord, GCRule
from layershare.model.disk import (
    CATEGORIES,
    Category,
    DiskRoot,
    DiskSnapshot,
    InactiveImage,
    InactiveStore,
    Orphan,
    SavedCategory,
    SavedDisk,
    SavedItem,
)
from layershare.model.dupes import DupesImage, DupesInput, LayerFiles, StoredCopy
from layershare.model.holdings import (
    SOFT,
    Container,
    EngineImage,
    EngineState,
    StoredUnit,
    Usage,
    Volume,
)
from layershare.model.images import (
    NO_CHAIN_NOTE,
    OCI_LABEL_PREFIX,
    Blob,
    EngineInfo,
    FileEntry,
    FileKind,
    HistoryEntry,
    Image,
    ImageContent,
    ImageStore,
    Layer,
    LayerContent,
    Snapshot,
    version_tuple,
)

__all__ = [
    "CATEGORIES",
    "NO_CHAIN_NOTE",
    "OCI_LABEL_PREFIX",
    "SOFT",
    "Blob",
    "BuildRecord",
    "Builder",
    "Category",
    "Container",
    "DiskRoot",
    "DiskSnapshot",
    "DupesImage",
    "DupesInput",
    "EngineImage",
    "EngineInfo",
    "EngineState",
    "FileEntry",
    "FileKind",
    "GCRule",
    "HistoryEntry",
    "Image",
    "ImageContent",
    "ImageStore",
    "InactiveImage",
    "InactiveStore",
    "Layer",
    "LayerContent",
    "LayerFiles",
    "Orphan",
    "SavedCategory",
    "SavedDisk",
    "SavedItem",
    "Snapshot",
    "StoredCopy",
    "StoredUnit",
    "Usage",
    "Volume",
    "version_tuple",
]
