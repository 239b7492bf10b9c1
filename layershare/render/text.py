"""Tables for people: plain text and Markdown, through tabulate."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from layershare.ids import short_id
from layershare.render.naming import describe_engine, shorten
from layershare.render.rows import records
from layershare.render.safe import tabulate
from layershare.report.analysis import Report
from layershare.units import human_size


def _size(size_bytes: int, exact: bool = True) -> str:
    return human_size(size_bytes) + ("" if exact else " ~")


def _content(value: object) -> str:
    return "-" if pd.isna(value) else human_size(int(value))  # type: ignore[call-overload]


def _table(rows: Sequence[Sequence[str]], headers: list[str], markdown: bool, right: set[int]) -> str:
    align = ["right" if i in right else "left" for i in range(len(headers))]
    return tabulate(
        rows,
        headers=headers,
        tablefmt="github" if markdown else "simple",
        colalign=align,
        disable_numparse=True,
    )


def render_report_text(report: Report, *, top: int | None, markdown: bool) -> str:
    """Summary, images table and most-shared layers."""
    t = report.totals
    engine = report.index.engine
    heading = "## " if markdown else ""
    summary_rows = [
        ["Images", f"{t.images} ({t.tags} tags)"],
        ["Distinct layers", str(t.layers)],
        ["Listed size (docker image ls, one row per tag)", human_size(t.listed_bytes)],
        ["Logical size (each image once)", human_size(t.logical_bytes)],
        ["Physical size (each stored layer once)", human_size(t.physical_bytes)],
        ["Saved by sharing", f"{human_size(t.saved_bytes)} ({t.sharing_ratio:.2f}x)"],
    ]
    if engine.image_store == "containerd" and t.blob_bytes:
        summary_rows[4] = [
            "Physical size (snapshots + content blobs, each once)",
            human_size(t.physical_bytes),
        ]
        summary_rows.insert(5, ["  of which content blobs", human_size(t.blob_bytes)])
        if t.step_snapshot_bytes:
            summary_rows.insert(6, ["  of which builder steps' snapshots", human_size(t.step_snapshot_bytes)])
        if t.physical_disk_bytes is not None:
            row = ["  the same, as du counts it on disk", human_size(t.physical_disk_bytes)]
            summary_rows.insert(7 if t.step_snapshot_bytes else 6, row)
    if t.other_bytes:
        summary_rows.append(["Store bytes no image uses (containers, leftovers)", human_size(t.other_bytes)])
    if t.duplicate_bytes:
        summary_rows.append(["Layers unpacked again in another namespace", human_size(t.duplicate_bytes)])
    parts = [f"{heading}{describe_engine(engine)}", _table(summary_rows, ["", ""], markdown, {1})]
    images = report.images if top is None else report.images.head(top)
    content = bool(report.images["content_bytes"].notna().any())  # CONTENT SIZE: the containerd store
    image_rows = [
        [
            shorten(row["reference"], 50),
            short_id(str(image_id)),
            _size(row["size_bytes"]),
            *([_content(row["content_bytes"])] if content else []),
            _size(row["shared_bytes"], not row["estimated"]),
            _size(row["unique_bytes"], not row["estimated"]),
            str(row["layers"]),
            str(row["containers"]),
        ]
        for image_id, row in zip(images.index, records(images), strict=True)
    ]
    more = len(report.images) - len(images)
    parts.append(f"{heading}Images" + (f" (top {len(images)} of {len(report.images)})" if more else ""))
    headers = ["REFERENCE", "IMAGE ID", "SIZE", *(["CONTENT"] if content else []), "SHARED", "UNIQUE"]
    headers += ["LAYERS", "CONTAINERS"]
    parts.append(_table(image_rows, headers, markdown, set(range(2, len(headers)))))
    if content:
        parts.append(
            "SIZE is docker image ls's DISK USAGE (unpacked snapshots and content blobs); CONTENT its "
            "CONTENT SIZE (the blobs of the image's manifests present here)."
        )
    shared = report.layers.loc[report.layers["images"] > 1]
    shared = shared if top is None else shared.head(top)
    parts.append(f"{heading}Most shared layers")
    if len(shared):
        layer_rows = [
            [
                _size(row["size_bytes"], row["size_exact"]),
                str(row["images"]),
                short_id(str(chain_id)),
                shorten(row["created_by"] or row["comment"]),
            ]
            for chain_id, row in zip(shared.index, records(shared), strict=True)
        ]
        parts.append(_table(layer_rows, ["SIZE", "IMAGES", "CHAIN ID", "CREATED BY"], markdown, {0, 1}))
    else:
        parts.append("No layer is used by more than one image.")
    notes = list(report.notes)
    if report.inexact_layers:
        notes.append("Sizes marked ~ are estimates (see above).")
    if notes:
        parts.append(f"{heading}Notes")
        parts.append("\n".join(f"- {n}" for n in notes))
    return "\n\n".join(parts) + "\n"


def render_history_text(history: pd.DataFrame, title: str, *, markdown: bool) -> str:
    """``docker image history`` as a table, oldest first, plus sharing."""
    rows = [
        [
            str(row["position"]),
            shorten(row["created_by"] or row["comment"]) + ("" if row["created_by_exact"] else " (?)"),
            _size(row["size_bytes"], row["size_exact"]),
            short_id(str(row["chain_id"])),
            str(row["shared_with"]),
        ]
        for row in records(history)
    ]
    heading = "## " if markdown else ""
    table = _table(rows, ["#", "CREATED BY", "SIZE", "CHAIN ID", "SHARED WITH"], markdown, {0, 2, 4})
    text = f"{heading}{title}\n\n{table}\n"
    if not (history["size_exact"].all() and history["created_by_exact"].all()):
        text += "\n~ size is an estimate; (?) the instruction is one of several the engine's answers allow.\n"
    return text
