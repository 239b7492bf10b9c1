"""layershare: how much disk Docker images really use.

import layershare
idx = layershare.collect()              # the engine DOCKER_HOST points to
idx.images, idx.layers, idx.edges       # pandas frames
report = layershare.build_report(idx)   # shared / unique / physical
report.totals.physical_bytes
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from layershare.index import LayerIndex


def collect(
    host: str | None = None, *, show_values: bool = False, cache_dir: str | Path | None = None
) -> LayerIndex:
    """Collect every image from a live engine and index it (``host``: any Docker host URL).

    ``cache_dir`` keeps what never changes per image ID between calls (see README, "Speed").
    """
    from layershare.index import LayerIndex
    from layershare.sources.engine import EngineSource

    source = EngineSource(host, show_values=show_values, cache_dir=Path(cache_dir) if cache_dir else None)
    with source:
        return LayerIndex.from_snapshot(source.snapshot())


def read_archives(*paths: str | Path, show_values: bool = False) -> LayerIndex:
    """Index the images of ``docker save`` archives or OCI layout folders, no engine needed."""
    from layershare.index import LayerIndex
    from layershare.sources.archive_source import ArchiveSource

    return LayerIndex.from_snapshot(ArchiveSource(paths, show_values=show_values).snapshot())


def load(recording: str | Path) -> LayerIndex:
    """Index a recording file written by ``layershare record``."""
    from layershare.index import LayerIndex
    from layershare.sources.recording import RecordingSource

    return LayerIndex.from_snapshot(RecordingSource(recording).snapshot())


def __getattr__(name: str) -> object:
    # Heavy modules (pandas) load only when these names are used.
    if name in {"build_report", "image_history", "find_image", "SortKey", "Report", "Totals"}:
        from layershare import analysis

        return getattr(analysis, name)
    if name == "LayerIndex":
        from layershare.index import LayerIndex

        return LayerIndex
    raise AttributeError(f"module 'layershare' has no attribute {name!r}")


__all__ = [
    "LayerIndex",
    "Report",
    "SortKey",
    "Totals",
    "build_report",
    "collect",
    "find_image",
    "image_history",
    "load",
    "read_archives",
]
