"""Report renderers: one object per output format, behind one interface; each returns text, never prints.

``RENDERERS`` maps every :class:`~layershare.formats.OutputFormat` to its
renderer (a test renders every member).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import pandas as pd

from layershare.formats import OutputFormat
from layershare.render import engines
from layershare.render.report_json import render_history_json, render_report_json
from layershare.render.tabular import render_history_csv, render_report_csv
from layershare.report.analysis import Report


class ReportRenderer(ABC):
    """How one format writes a report, several engines' reports, and an image's history."""

    @abstractmethod
    def report(self, report: Report, *, top: int | None) -> str:
        """One engine's report; ``top`` limits table rows (json and csv hold every row)."""

    @abstractmethod
    def engines(self, reports: Sequence[Report], *, top: int | None) -> str:
        """Several engines: a row per engine and their sums, then each engine's report."""

    @abstractmethod
    def history(self, history: pd.DataFrame, title: str, image_id: str) -> str:
        """One image's layers, oldest first."""


class TextRenderer(ReportRenderer):
    """Tables for people: plain text, or GitHub-flavoured Markdown."""

    def __init__(self, *, markdown: bool) -> None:
        self.markdown = markdown

    def report(self, report: Report, *, top: int | None) -> str:
        from layershare.render.text import render_report_text  # tabulate: only for tables

        return render_report_text(report, top=top, markdown=self.markdown)

    def engines(self, reports: Sequence[Report], *, top: int | None) -> str:
        return engines.render_engines_text(reports, top=top, markdown=self.markdown)

    def history(self, history: pd.DataFrame, title: str, image_id: str) -> str:
        from layershare.render.text import render_history_text

        return render_history_text(history, title, markdown=self.markdown)


class JsonRenderer(ReportRenderer):
    """The JSON contracts: ``layershare.report/v1``, ``reports/v1`` and ``history/v1``."""

    def report(self, report: Report, *, top: int | None) -> str:
        return render_report_json(report)

    def engines(self, reports: Sequence[Report], *, top: int | None) -> str:
        return engines.render_engines_json(reports)

    def history(self, history: pd.DataFrame, title: str, image_id: str) -> str:
        return render_history_json(history, image_id)


class CsvRenderer(ReportRenderer):
    """Exact bytes, one row per image (with an engine column for several) or per layer."""

    def report(self, report: Report, *, top: int | None) -> str:
        return render_report_csv(report)

    def engines(self, reports: Sequence[Report], *, top: int | None) -> str:
        return engines.render_engines_csv(reports)

    def history(self, history: pd.DataFrame, title: str, image_id: str) -> str:
        return render_history_csv(history)


class HtmlRenderer(ReportRenderer):
    """One self-contained page (:mod:`layershare.render.html`); from a report alone it has no what-if
    model or disk categories: :func:`layershare.reporting.report_page` adds them for live engines."""

    def report(self, report: Report, *, top: int | None) -> str:
        from layershare.render.html import PageSection, render_page

        return render_page([PageSection(report)])

    def engines(self, reports: Sequence[Report], *, top: int | None) -> str:
        from layershare.render.html import PageSection, render_page

        return render_page([PageSection(r) for r in reports])

    def history(self, history: pd.DataFrame, title: str, image_id: str) -> str:
        from layershare.render.html import render_history_page

        return render_history_page(history, title, image_id)


RENDERERS: dict[OutputFormat, ReportRenderer] = {
    OutputFormat.TABLE: TextRenderer(markdown=False),
    OutputFormat.MARKDOWN: TextRenderer(markdown=True),
    OutputFormat.JSON: JsonRenderer(),
    OutputFormat.CSV: CsvRenderer(),
    OutputFormat.HTML: HtmlRenderer(),
}


def render_report(report: Report, fmt: OutputFormat, *, top: int | None = None) -> str:
    """Render a report; ``top`` limits table rows only (json and csv hold every row)."""
    return RENDERERS[fmt].report(report, top=top)


def render_reports(reports: Sequence[Report], fmt: OutputFormat, *, top: int | None = None) -> str:
    """Render one report, or several engines' reports with a row per engine and their sums."""
    if len(reports) == 1:
        return render_report(reports[0], fmt, top=top)
    return RENDERERS[fmt].engines(reports, top=top)


def render_history(history: pd.DataFrame, title: str, image_id: str, fmt: OutputFormat) -> str:
    """Render one image's layer history."""
    return RENDERERS[fmt].history(history, title, image_id)


__all__ = ["RENDERERS", "OutputFormat", "ReportRenderer", "render_history", "render_report", "render_reports"]
