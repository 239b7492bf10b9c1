"""Renderers: each output format maps to a function that returns text (never prints)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import Enum

import pandas as pd

from layershare.analysis import Report
from layershare.render.report_json import render_report_json
from layershare.render.rows import records
from layershare.render.tabular import render_history_csv, render_report_csv
from layershare.render.text import render_history_text, render_report_text


class OutputFormat(str, Enum):
    """Formats ``report`` and ``history`` can write."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


def render_report(report: Report, fmt: OutputFormat, *, top: int | None = None) -> str:
    """Render a report; ``top`` limits table rows only (json and csv hold every row)."""
    if fmt is OutputFormat.JSON:
        return render_report_json(report)
    if fmt is OutputFormat.CSV:
        return render_report_csv(report)
    return render_report_text(report, top=top, markdown=fmt is OutputFormat.MARKDOWN)


def render_reports(reports: Sequence[Report], fmt: OutputFormat, *, top: int | None = None) -> str:
    """Render one report, or several engines' reports with a row per engine and their sums."""
    if len(reports) == 1:
        return render_report(reports[0], fmt, top=top)
    from layershare.render.engines import render_engines_csv, render_engines_json, render_engines_text

    if fmt is OutputFormat.JSON:
        return render_engines_json(reports)
    if fmt is OutputFormat.CSV:
        return render_engines_csv(reports)
    return render_engines_text(reports, top=top, markdown=fmt is OutputFormat.MARKDOWN)


def render_history(history: pd.DataFrame, title: str, image_id: str, fmt: OutputFormat) -> str:
    """Render one image's layer history."""
    if fmt is OutputFormat.JSON:
        doc = {
            "schema": "layershare.history/v1",
            "image": image_id,
            "layers": [
                {
                    "position": int(r["position"]),
                    "created_by": r["created_by"],
                    "size_bytes": int(r["size_bytes"]),
                    "chain_id": r["chain_id"],
                    "diff_id": r["diff_id"],
                    "shared_with": int(r["shared_with"]),
                    "exact": bool(r["size_exact"]),
                }
                for r in records(history)
            ],
        }
        return json.dumps(doc, indent=2, allow_nan=False) + "\n"
    if fmt is OutputFormat.CSV:
        return render_history_csv(history)
    return render_history_text(history, title, markdown=fmt is OutputFormat.MARKDOWN)


__all__ = ["OutputFormat", "render_history", "render_report", "render_reports"]
