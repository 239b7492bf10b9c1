"""CSV output: exact bytes, one row per image (report) or per layer (history)."""

from __future__ import annotations

import io

import pandas as pd

from layershare.render.safe import csv_cell
from layershare.report.analysis import Report

IMAGE_COLUMNS = [
    "id",
    "reference",
    "size_bytes",
    "content_bytes",
    "shared_bytes",
    "unique_bytes",
    "layers",
    "containers",
    "created",
    "exact",
]


def render_report_csv(report: Report) -> str:
    """The images table as CSV."""
    return frame_csv(image_frame(report))


def frame_csv(frame: pd.DataFrame) -> str:
    """A frame as CSV, each text cell :func:`~layershare.render.safe.csv_cell` (no control character,
    no cell a spreadsheet would run as a formula)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(csv_cell, na_action="ignore")
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def image_frame(report: Report) -> pd.DataFrame:
    """The images table with the CSV's columns."""
    images = report.images
    return pd.DataFrame(
        {
            "id": images.index,
            "reference": images["reference"].to_numpy(),
            "size_bytes": images["size_bytes"].to_numpy(),
            "content_bytes": images["content_bytes"].astype("Int64").to_numpy(),
            "shared_bytes": images["shared_bytes"].to_numpy(),
            "unique_bytes": images["unique_bytes"].to_numpy(),
            "layers": images["layers"].to_numpy(),
            "containers": images["containers"].to_numpy(),
            "created": images["created"].to_numpy(),
            "exact": (~images["estimated"].astype(bool)).to_numpy(),
        }
    )


def render_history_csv(history: pd.DataFrame) -> str:
    """An image's layers as CSV, oldest first."""
    return frame_csv(history)
