"""Reports as text, for the command line and library callers alike, served from the cache when it can.

A live engine with a cache folder says cheaply whether anything changed (a
digest of its version, image and container lists): when a report with the
same options was rendered for the same state, its stored text is served,
stamped with the time it is served, without collecting anything or importing
pandas. Otherwise the sources are collected, analysed and rendered, and the
text is stored for next time (not when an image vanished mid-run).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from layershare.formats import DupesFormat, OutputFormat, SortKey
from layershare.sources.choice import SourceChoice
from layershare.sources.interface import Source, StatefulSource
from layershare.times import now_iso
from layershare.version import __version__

if TYPE_CHECKING:
    from layershare.dupes.analysis import DupesReport

# Changes whenever a report's text changes within a version (report/v1 gained images' chain_ids; 3:
# unique bytes count hidden parents', images gained hidden_parent_bytes, shared_with_parents_bytes, parent_id;
# 4: unique bytes leave out what hidden parents a removal does not take keep, kept_by_parents_bytes).
_REPORT_REVISION = 4
# Stands for the collection time in a stored report; replaced when it is served.
_COLLECTED_AT = "\x00collected-at\x00"


@dataclass(frozen=True)
class ReportOptions:
    """What shapes a report's text: format, images covered, their order, and table rows."""

    fmt: OutputFormat = OutputFormat.TABLE
    include_intermediate: bool = False
    top: int | None = 20
    sort: SortKey = SortKey.UNIQUE
    references: tuple[str, ...] = ()

    def cache_key(self) -> list[object]:
        """Everything of these options (and of layershare) that changes the text."""
        return [
            __version__,
            _REPORT_REVISION,
            self.fmt.value,
            self.top,
            self.sort.value,
            sorted(self.references),
            self.include_intermediate,
        ]


def report_text(sources: Source | Sequence[Source], options: ReportOptions | None = None) -> str:
    """The report of one source, or of several engines with a row per engine and their sums."""
    options = options or ReportOptions()
    if isinstance(sources, Source):
        sources = [sources]
    if len(sources) == 1:
        (source,) = sources
        if isinstance(source, StatefulSource):
            return _cached_report_text(source, options)
    return _render(sources, options)[0]


def _cached_report_text(source: StatefulSource, options: ReportOptions) -> str:
    reports = source.report_cache()
    if reports is None:
        return _render([source], options)[0]
    from layershare.cache import ReportCache

    key = ReportCache.key(source.state_digest(), options.cache_key())
    stored = reports.get(key)
    if stored is not None:  # nothing changed on the engine: the same report, collected now
        return stored.replace(_COLLECTED_AT, now_iso(), 1)
    text, collected_at = _render([source], options)
    if source.complete:
        reports.put(key, text.replace(collected_at, _COLLECTED_AT, 1) if collected_at else text)
    return text


def _render(sources: Sequence[Source], options: ReportOptions) -> tuple[str, str]:
    """Collect, analyse and render; also return the (last) collection time the text holds."""
    from layershare.render.report import render_reports
    from layershare.report.analysis import build_report
    from layershare.report.index import LayerIndex

    reports = []
    for source in sources:
        index = LayerIndex.from_snapshot(source.snapshot())
        reports.append(
            build_report(
                index,
                include_intermediate=options.include_intermediate,
                references=options.references,
                sort=options.sort,
            )
        )
    return render_reports(reports, options.fmt, top=options.top), reports[-1].index.collected_at


def report_page(
    sources: Sequence[Source],
    options: ReportOptions | None = None,
    *,
    with_disk: bool = False,
    dupes: Sequence[DupesReport] | None = None,
) -> str:
    """The self-contained HTML page of one or several sources (``report --format html``).

    For a live engine the page also gets the removal model its "what if I remove these" panel
    replays (read as ``layershare free`` reads the engine), with ``dupes`` (one per source) the files
    stored more than once, and with ``with_disk``, the categories
    of ``layershare disk``. Never served from the cache: the build cache it weighs is not in the
    engine's state digest.
    """
    from layershare.disk.categories import disk_report
    from layershare.free.page_model import image_removal_model
    from layershare.render.html import PageSection, render_page
    from layershare.report.analysis import build_report
    from layershare.report.index import LayerIndex
    from layershare.sources.disk.source import DiskSource
    from layershare.sources.engine import EngineSource
    from layershare.sources.holdings.reader import HoldingsReader

    options = options or ReportOptions(fmt=OutputFormat.HTML)
    sections: list[PageSection] = []
    for source in sources:
        removal = disk = None
        if isinstance(source, EngineSource):
            # One reading of the engine: the disk's, whose holdings the removal model is made of.
            if with_disk:
                disk_source = DiskSource(source, with_images=True)
                disk = disk_report(disk_source.snapshot())
                state, snapshot = disk.snapshot.holdings, disk_source.reader.snapshot
            else:
                reader = HoldingsReader(source)
                state, snapshot = reader.state(with_df=False), reader.snapshot
            removal = image_removal_model(state) if state is not None else None
            snapshot = snapshot or source.snapshot()
        else:
            snapshot = source.snapshot()
        report = build_report(
            LayerIndex.from_snapshot(snapshot),
            include_intermediate=options.include_intermediate,
            references=options.references,
            sort=options.sort,
        )
        dupes_report = dupes[len(sections)] if dupes else None  # one per source, in order (``dupes``)
        sections.append(PageSection(report, removal=removal, disk=disk, dupes=dupes_report))
    return render_page(sections)


def dupes_text(
    choice: SourceChoice, images: Sequence[str], fmt: DupesFormat, top: int, read: Callable[[], DupesReport]
) -> str:
    """``layershare dupes``' output: served where a run on the same engine state with the same options
    kept it (layers never change: the same images give the same answer), else ``read`` and rendered,
    and kept (not when a layer could not be read)."""
    from layershare.cache import ReportCache
    from layershare.render.dupes import render_dupes

    kept: tuple[ReportCache, str] | None = None
    if choice.reads_engine and len(choice.hosts) <= 1 and choice.cache_dir is not None:
        from layershare.sources.choice import open_engine

        engine = open_engine(choice)
        reports = engine.report_cache()
        if reports is not None:
            kept = (
                reports,
                ReportCache.key(engine.state_digest(), ["dupes", 1, fmt.value, top, sorted(images)]),
            )
    text = kept[0].get(kept[1]) if kept is not None else None
    if text is None:
        report = read()
        text = render_dupes(report, fmt, top=top)
        if kept is not None and not report.unread:
            kept[0].put(kept[1], text)
    return text
