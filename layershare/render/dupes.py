"""``layershare dupes`` for people and programs: table, Markdown, CSV and the ``layershare.dupes/v1`` JSON.

``DUPES_RENDERERS`` maps every :class:`~layershare.formats.DupesFormat` to one renderer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from layershare.dupes.analysis import Advice, DupesReport
from layershare.formats import DupesFormat
from layershare.ids import short_id
from layershare.model import DupesImage
from layershare.render.safe import SafeCsvWriter, tabulate, visible
from layershare.units import human_size

DUPES_SCHEMA = "layershare.dupes/v1"
PATHS_SHOWN = 20  # per group in the JSON: the rest are counted (``paths_total``)


def _image(image: DupesImage) -> dict[str, Any]:
    return {"id": image.id, "tags": list(image.tags)}


def dupes_document(report: DupesReport, *, groups: int | None = None) -> dict[str, Any]:
    """The report as plain JSON-ready data (``layershare.dupes/v1``); ``groups``: at most so many
    contents (largest waste first; ``groups_total`` counts them all)."""
    shown = report.groups if groups is None else report.groups[:groups]
    return {
        "schema": DUPES_SCHEMA,
        "source": report.source,
        "read_from": report.read_from,
        "images": [_image(i) for i in report.images],
        "stored_layers": report.stored_layers,
        "unread_layers": [{"chain_id": c, "why": why} for c, why in report.unread],
        "stored_files": report.stored_files,
        "stored_bytes": report.stored_bytes,
        "duplicate_bytes": report.duplicate_bytes,
        "consolidatable_bytes": report.consolidatable_bytes,
        "groups_total": len(report.groups),
        "groups": [
            {
                "digest": g.digest,
                "size": g.size,
                "copies": g.copies,
                "wasted_bytes": g.wasted,
                "paths": ["/" + p for p in g.paths[:PATHS_SHOWN]],
                "paths_total": len(g.paths),
                "images": [_image(i) for i in g.images],
                "layers": list(g.layers),
                "consolidatable": g.consolidatable,
            }
            for g in shown
        ],
        "advice": [
            {
                "images": [_image(i) for i in a.images],
                "layers": list(a.layers),
                "files": a.files,
                "bytes": a.bytes,
                "saving_bytes": a.saving_bytes,
                "folders": [{"folder": f, "files": n} for f, n in a.folders],
                "base": _image(a.base) if a.base is not None else None,
                "text": advice_sentence(a),
            }
            for a in report.advice
        ],
    }


def _name(image: DupesImage) -> str:
    return image.tags[0] if image.tags else f"<none> {short_id(image.id)}"


def _names(images: Sequence[DupesImage], shown: int = 3) -> str:
    names = ", ".join(_name(i) for i in images[:shown])
    return names + (f" and {len(images) - shown} more" if len(images) > shown else "")


def advice_sentence(advice: Advice) -> str:
    """``12 images carry these 318 files (182MB) in their own layers; one shared layer under them saves
    2.0GB``."""
    n = len(advice.images)
    who = f"{n} images carry" if n != 1 else "1 image carries"
    return (
        f"{who} {f'these {advice.files:,} files' if advice.files != 1 else 'this file'} ({human_size(advice.bytes)}) in "
        f"{len(advice.layers)} of their own layers; one shared layer under them saves "
        f"{human_size(advice.saving_bytes)} ({advice.saving_bytes:,} B)"
    )


def _text(report: DupesReport, *, top: int, markdown: bool) -> str:
    heading = "## " if markdown else ""
    fmt = "github" if markdown else "simple"
    lines = [
        f"{heading}Files stored more than once: {report.source}",
        "",
        f"{len(report.images)} images, {report.stored_layers} stored layers read from {report.read_from}: "
        f"{report.stored_files:,} files, {human_size(report.stored_bytes)} ({report.stored_bytes:,} B)",
        f"Duplicate content:  {human_size(report.duplicate_bytes)} ({report.duplicate_bytes:,} B) in "
        f"{len(report.groups):,} contents stored more than once: what a content-addressed store would save",
        f"Consolidatable:     {human_size(report.consolidatable_bytes)} ({report.consolidatable_bytes:,} B): "
        "the same path, content, mode and owner in several layers; what shared layers would save",
    ]
    for chain, why in report.unread:
        lines.append(f"Not read: layer {short_id(chain)}: {visible(why)}")
    if report.groups:
        rows = [
            [human_size(g.wasted), human_size(g.size), str(g.copies), "/" + g.paths[0]
             + (f" (+{len(g.paths) - 1} paths)" if len(g.paths) > 1 else ""), _names(g.images)]
            for g in report.groups[:top]
        ]  # fmt: skip
        table = tabulate(rows, headers=["WASTED", "SIZE", "COPIES", "PATH", "IMAGES"], tablefmt=fmt,
                         colalign=["right", "right", "right", "left", "left"], disable_numparse=True)  # fmt: skip
        lines += ["", f"{heading}Largest duplicated contents", "", table]
    if report.advice:
        lines += ["", f"{heading}Shared layers that would store them once", ""]
        for n, advice in enumerate(report.advice[:top], 1):
            folders = ", ".join(f"{visible(f)} ({c})" for f, c in advice.folders)  # a folder's name is data
            lines.append(f"{n}. {advice_sentence(advice)}.")
            lines.append(f"   in {folders}; images: {visible(_names(advice.images, 5))}")
            if advice.base is not None:
                lines.append(
                    f"   move them into {visible(_name(advice.base))}, which all of them are built on"
                )
    return "\n".join(lines) + "\n"


def _csv(report: DupesReport) -> str:
    buffer = io.StringIO()
    out = SafeCsvWriter(csv.writer(buffer, lineterminator="\n"))
    out.writerow(
        ["digest", "size", "copies", "wasted_bytes", "consolidatable_bytes", "paths", "images", "layers"]
    )
    for g in report.groups:
        out.writerow([g.digest, g.size, g.copies, g.wasted, g.consolidatable, " ".join("/" + p for p in g.paths),
                      " ".join(_name(i) for i in g.images), " ".join(g.layers)])  # fmt: skip
    return buffer.getvalue()


DUPES_RENDERERS: dict[DupesFormat, Callable[[DupesReport, int], str]] = {
    DupesFormat.TABLE: lambda r, top: _text(r, top=top, markdown=False),
    DupesFormat.MARKDOWN: lambda r, top: _text(r, top=top, markdown=True),
    DupesFormat.CSV: lambda r, top: _csv(r),
    DupesFormat.JSON: lambda r, top: json.dumps(dupes_document(r), separators=(",", ":")) + "\n",
}


def render_dupes(report: DupesReport, fmt: DupesFormat, *, top: int = 20) -> str:
    return DUPES_RENDERERS[fmt](report, top)
