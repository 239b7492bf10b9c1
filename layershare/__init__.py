"""layershare: how much disk Docker images really use.

import layershare
idx = layershare.collect()              # the engine DOCKER_HOST points to
idx.images, idx.layers, idx.edges       # pandas frames
report = layershare.build_report(idx)   # shared / unique / physical
report.totals.physical_bytes
with layershare.EngineSource() as engine:  # what removing app:* would free (nothing is removed)
    layershare.free_space(engine, layershare.Selection(references=("app:*",))).freed_bytes

Every name here is the public API (README, "Python API"); modules below
``layershare`` may move between releases. Heavy modules (pandas, the Docker
SDK) load only when a name that needs them is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from layershare.exports import lazy_names
from layershare.version import __version__ as __version__

if TYPE_CHECKING:
    from layershare.cache import default_cache_dir
    from layershare.diff.images import HostDiff, ImageDiff
    from layershare.diff.sides import Sides, compare
    from layershare.disk.categories import DiskReport, disk_report
    from layershare.disk.saved_diff import DiskDiff
    from layershare.formats import CheckFormat, OutputFormat, SortKey
    from layershare.free.selection import Selection, plan_removal
    from layershare.free.space import free_space, plan_space
    from layershare.free.target import Rules, Target, parse_target
    from layershare.free.whatif import FreeResult, what_if
    from layershare.policy.config import Policy, load_policy
    from layershare.policy.gate import CheckReport, run_check, select_for_check
    from layershare.report.analysis import Report, Totals, build_report, find_image, image_history
    from layershare.report.index import LayerIndex
    from layershare.report.tree import SharingTree, sharing_tree
    from layershare.reporting import ReportOptions, report_page, report_text
    from layershare.sources.archive import ArchiveSource
    from layershare.sources.choice import SourceChoice, open_source
    from layershare.sources.containerd import ContainerdSource
    from layershare.sources.engine import EngineSource
    from layershare.sources.interface import ContentSource, Source
    from layershare.sources.recording import RecordingSource


def collect(
    host: str | None = None, *, show_values: bool = False, cache_dir: str | Path | None = None
) -> LayerIndex:
    """Collect every image from a live engine and index it (``host``: any Docker host URL).

    ``cache_dir`` keeps what never changes per image ID between calls (see README, "Speed").
    """
    from layershare.report.index import LayerIndex
    from layershare.sources.engine import EngineSource

    source = EngineSource(host, show_values=show_values, cache_dir=Path(cache_dir) if cache_dir else None)
    with source:
        return LayerIndex.from_snapshot(source.snapshot())


def read_archives(*paths: str | Path, show_values: bool = False) -> LayerIndex:
    """Index the images of ``docker save`` archives or OCI layout folders, no engine needed."""
    from layershare.report.index import LayerIndex
    from layershare.sources.archive import ArchiveSource

    return LayerIndex.from_snapshot(ArchiveSource(paths, show_values=show_values).snapshot())


def read_disk(host: str | None = None, *, data_root: str | None = None) -> DiskReport:
    """Where every byte under a live engine's data root went (``layershare disk``), by category."""
    from layershare.disk.categories import disk_report
    from layershare.sources.disk.source import DiskSource
    from layershare.sources.engine import EngineSource

    with EngineSource(host) as engine:
        return disk_report(DiskSource(engine, data_root=data_root).snapshot())


def load(recording: str | Path) -> LayerIndex:
    """Index a recording file written by ``layershare record``."""
    from layershare.report.index import LayerIndex
    from layershare.sources.recording import RecordingSource

    return LayerIndex.from_snapshot(RecordingSource(recording).snapshot())


def diff_between(
    old: str | Path, new: str | Path, host: str | None = None, *, files: bool = False
) -> ImageDiff | HostDiff | DiskDiff:
    """What changed from ``old`` to ``new`` (``layershare diff``): image references on the engine at
    ``host``, or paths to saved reports, recordings, archives or disks (told by their content)."""
    from layershare.diff.sides import Sides, compare
    from layershare.sources.choice import SourceChoice, open_source

    sides = Sides(SourceChoice(hosts=(host,) if host else ()), open_source)
    return compare(sides.side(str(old)), sides.side(str(new)), files=files)


# Each lazily loaded public name, and the module that defines it.
_HOMES = {
    "LayerIndex": "layershare.report.index",
    "Report": "layershare.report.analysis",
    "Totals": "layershare.report.analysis",
    "build_report": "layershare.report.analysis",
    "find_image": "layershare.report.analysis",
    "image_history": "layershare.report.analysis",
    "SortKey": "layershare.formats",
    "OutputFormat": "layershare.formats",
    "CheckFormat": "layershare.formats",
    "ReportOptions": "layershare.reporting",
    "default_cache_dir": "layershare.cache",
    "Sides": "layershare.diff.sides",
    "compare": "layershare.diff.sides",
    "ImageDiff": "layershare.diff.images",
    "HostDiff": "layershare.diff.images",
    "DiskDiff": "layershare.disk.saved_diff",
    "DiskReport": "layershare.disk.categories",
    "disk_report": "layershare.disk.categories",
    "report_text": "layershare.reporting",
    "report_page": "layershare.reporting",
    "SharingTree": "layershare.report.tree",
    "sharing_tree": "layershare.report.tree",
    "Source": "layershare.sources.interface",
    "ContentSource": "layershare.sources.interface",
    "SourceChoice": "layershare.sources.choice",
    "open_source": "layershare.sources.choice",
    "EngineSource": "layershare.sources.engine",
    "ArchiveSource": "layershare.sources.archive",
    "RecordingSource": "layershare.sources.recording",
    "ContainerdSource": "layershare.sources.containerd",
    "Policy": "layershare.policy.config",
    "load_policy": "layershare.policy.config",
    "CheckReport": "layershare.policy.gate",
    "run_check": "layershare.policy.gate",
    "select_for_check": "layershare.policy.gate",
    "free_space": "layershare.free.space",
    "plan_space": "layershare.free.space",
    "Rules": "layershare.free.target",
    "Target": "layershare.free.target",
    "parse_target": "layershare.free.target",
    "FreeResult": "layershare.free.whatif",
    "what_if": "layershare.free.whatif",
    "Selection": "layershare.free.selection",
    "plan_removal": "layershare.free.selection",
}


__getattr__ = lazy_names("layershare", _HOMES)


__all__ = [
    "ArchiveSource",
    "CheckFormat",
    "CheckReport",
    "ContainerdSource",
    "ContentSource",
    "DiskDiff",
    "DiskReport",
    "EngineSource",
    "FreeResult",
    "HostDiff",
    "ImageDiff",
    "LayerIndex",
    "OutputFormat",
    "Policy",
    "RecordingSource",
    "Report",
    "ReportOptions",
    "Rules",
    "Selection",
    "SharingTree",
    "Sides",
    "SortKey",
    "Source",
    "SourceChoice",
    "Target",
    "Totals",
    "build_report",
    "collect",
    "compare",
    "default_cache_dir",
    "diff_between",
    "disk_report",
    "find_image",
    "free_space",
    "image_history",
    "load",
    "load_policy",
    "open_source",
    "parse_target",
    "plan_removal",
    "plan_space",
    "read_archives",
    "read_disk",
    "report_page",
    "report_text",
    "run_check",
    "select_for_check",
    "sharing_tree",
    "what_if",
]
