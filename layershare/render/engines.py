"""Several engines in one report: a row per engine and a total, then each engine's own report."""

from __future__ import annotations

import json
from collections.abc import Sequence

from layershare.render.naming import describe_engine
from layershare.render.report_json import report_document
from layershare.render.tabular import frame_csv, image_frame
from layershare.report.analysis import SUMMED_TOTALS, Report
from layershare.units import human_size

REPORTS_SCHEMA = "layershare.reports/v1"
_TOTALS = SUMMED_TOTALS


def _sum(reports: Sequence[Report], name: str) -> int:
    return sum(int(getattr(r.totals, name)) for r in reports)


def render_engines_text(reports: Sequence[Report], *, top: int | None, markdown: bool) -> str:
    """The engines table (each engine's disk is its own: physical bytes add up), then each report."""
    from layershare.render.safe import tabulate

    heading = "## " if markdown else ""
    rows = [
        [
            describe_engine(r.index.engine),
            str(r.totals.images),
            human_size(r.totals.listed_bytes),
            human_size(r.totals.logical_bytes),
            human_size(r.totals.physical_bytes),
        ]
        for r in reports
    ]
    rows.append(
        [
            f"all {len(reports)} engines",
            str(_sum(reports, "images")),
            human_size(_sum(reports, "listed_bytes")),
            human_size(_sum(reports, "logical_bytes")),
            human_size(_sum(reports, "physical_bytes")),
        ]
    )
    table = tabulate(
        rows,
        headers=["ENGINE", "IMAGES", "LISTED", "LOGICAL", "PHYSICAL"],
        tablefmt="github" if markdown else "simple",
        colalign=["left", "right", "right", "right", "right"],
        disable_numparse=True,
    )
    parts = [f"{heading}Engines\n\n{table}\n"]
    from layershare.render.text import render_report_text  # tabulate: only for tables

    parts += [render_report_text(r, top=top, markdown=markdown) for r in reports]
    return "\n".join(parts)


def render_engines_json(reports: Sequence[Report]) -> str:
    """``layershare.reports/v1``: every engine's ``layershare.report/v1`` and their sums."""
    doc = {
        "schema": REPORTS_SCHEMA,
        "totals": {name: _sum(reports, name) for name in _TOTALS},
        "engines": [report_document(r) for r in reports],
    }
    return json.dumps(doc, allow_nan=False) + "\n"


def render_engines_csv(reports: Sequence[Report]) -> str:
    """Every engine's images as CSV, with the engine in the first column."""
    import pandas as pd

    frames = []
    for r in reports:
        frame = image_frame(r)
        frame.insert(0, "engine", r.index.engine.host)
        frames.append(frame)
    return frame_csv(pd.concat(frames, ignore_index=True))
