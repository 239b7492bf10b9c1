"""The ``layershare.report/v1`` and ``layershare.history/v1`` JSON contracts (exact bytes)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from layershare.render.naming import engine_document
from layershare.render.rows import records
from layershare.report.analysis import Report, Totals

REPORT_SCHEMA = "layershare.report/v1"


def _text_or_none(value: object) -> str | None:
    # pandas keeps a missing string as NaN; JSON must say null.
    return value if isinstance(value, str) else None


def totals_document(totals: Totals) -> dict[str, Any]:
    """A report's totals as every contract writes them."""
    return {
        "images": totals.images,
        "tags": totals.tags,
        "layers": totals.layers,
        "listed_bytes": totals.listed_bytes,
        "logical_bytes": totals.logical_bytes,
        "physical_bytes": totals.physical_bytes,
        "saved_bytes": totals.saved_bytes,
        "blob_bytes": totals.blob_bytes,
        "other_bytes": totals.other_bytes,
        "duplicate_bytes": totals.duplicate_bytes,
        "step_snapshot_bytes": totals.step_snapshot_bytes,
        "physical_disk_bytes": totals.physical_disk_bytes,
    }


def report_document(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data, following the documented schema."""
    engine = report.index.engine
    images = report.images
    layers = report.layers
    chains = report.index.chains
    return {
        "schema": REPORT_SCHEMA,
        "collected_at": report.index.collected_at,
        "engine": engine_document(engine),
        "totals": totals_document(report.totals),
        "images": [
            {
                "id": image_id,
                "tags": list(row["tags"]),
                "digests": list(row["digests"]),
                "created": row["created"],
                "size_bytes": int(row["size_bytes"]),
                "content_bytes": _int_or_none(row["content_bytes"]),
                "stored_bytes": int(row["layer_bytes"]) + int(row["blob_bytes"]),
                "blob_bytes": int(row["blob_bytes"]),
                "shared_bytes": int(row["shared_bytes"]),
                "unique_bytes": int(row["unique_bytes"]),
                "hidden_parent_bytes": int(row["hidden_parent_bytes"]),
                "shared_with_parents_bytes": int(row["shared_with_parents_bytes"]),
                "kept_by_parents_bytes": int(row["kept_by_parents_bytes"]),
                "layers": int(row["layers"]),
                "containers": int(row["containers"]),
                "dangling": bool(row["dangling"]),
                "intermediate": bool(row["intermediate"]),
                "parent_id": _text_or_none(row["parent_id"]),
                "platforms": list(row["platforms"]),
                "exact": not bool(row["estimated"]),
                "chain_ids": list(chains.get(image_id, ())),
            }
            for image_id, row in zip(images.index, records(images), strict=True)
        ],
        "layers": [
            {
                "chain_id": chain_id,
                "diff_id": row["diff_id"],
                "parent_chain_id": _text_or_none(row["parent_chain_id"]),
                "size_bytes": int(row["size_bytes"]),
                "blob_bytes": None if pd.isna(row["blob_bytes"]) else int(row["blob_bytes"]),
                "images": int(row["images"]),
                "created_by": row["created_by"],
                "exact": bool(row["size_exact"]),
            }
            for chain_id, row in zip(layers.index, records(layers), strict=True)
        ],
        "notes": list(report.notes),
    }


def _int_or_none(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def render_report_json(report: Report) -> str:
    """The report as one line of JSON."""
    # One line: the C encoder is ten times faster than an indented dump on large hosts.
    return json.dumps(report_document(report), allow_nan=False) + "\n"


HISTORY_SCHEMA = "layershare.history/v1"


def render_history_json(history: pd.DataFrame, image_id: str) -> str:
    """``layershare.history/v1``: one image's layers, oldest first."""
    doc = {
        "schema": HISTORY_SCHEMA,
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
