"""``report --format html``: one self-contained page (no request leaves it) per run, a section per engine.

The page holds the summary, a treemap of where the physical bytes are (the
sharing tree: roots, the images built on them, their own layers, each stored
layer drawn once), the images table with each image's layers, and a "what if
I remove these" panel that replays ``layershare free IMAGE…`` in the page from
an embedded :class:`~layershare.free.page_model.ImageRemovalModel`. Data goes in as
JSON escaped for a ``<script>`` element; the page's script shows every string
as text. The charting library (Apache ECharts) ships inside the package, with
its licence.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

from layershare.disk.categories import DiskReport
from layershare.dupes.analysis import DupesReport
from layershare.free.page_model import ImageRemovalModel
from layershare.render.dupes import dupes_document
from layershare.render.naming import describe_engine, engine_document
from layershare.render.report_json import totals_document
from layershare.report.analysis import Report
from layershare.report.tree import sharing_tree
from layershare.version import __version__

PAGE_SCHEMA = "layershare.page/v1"
MAX_INSTRUCTION = 1000  # characters of an instruction the page keeps (longer ones end with "…")
DUPES_GROUPS = 50  # the contents stored more than once the page lists (the largest waste first)


@dataclass(frozen=True)
class PageSection:
    """One engine's part of the page: its report, and where known its removal model and disk."""

    report: Report
    removal: ImageRemovalModel | None = None
    disk: DiskReport | None = None
    notes: tuple[str, ...] = ()
    dupes: DupesReport | None = None


def _instruction(text: object) -> str:
    line = text if isinstance(text, str) else ""
    return line if len(line) <= MAX_INSTRUCTION else line[: MAX_INSTRUCTION - 1] + "…"


def section_document(section: PageSection) -> dict[str, Any]:
    """One section's data: every array positional, each layer once, images naming layers by position."""
    report = section.report
    index = report.index
    images, layers, totals = report.images, report.layers, report.totals
    layer_at = {chain_id: i for i, chain_id in enumerate(layers.index)}
    chains = index.chains.reindex(images.index)
    tree = sharing_tree(report)
    image_at = {image_id: i for i, image_id in enumerate(images.index)}
    removal_at = {i: p for p, i in enumerate(section.removal.image_ids)} if section.removal else {}
    document: dict[str, Any] = {
        "title": describe_engine(index.engine),
        "engine": engine_document(index.engine),
        "collected_at": index.collected_at,
        "totals": totals_document(totals),
        "notes": list(report.notes) + list(section.notes),
        "layers": {
            "chain_id": list(layers.index),
            "diff_id": layers["diff_id"].tolist(),
            "size": [int(v) for v in layers["size_bytes"]],
            "created_by": [_instruction(v) for v in layers["created_by"]],
            "images": [int(v) for v in layers["images"]],
            "exact": [bool(v) for v in layers["size_exact"]],
        },
        "images": {
            "id": list(images.index),
            "tags": [list(t) for t in images["tags"]],
            "created": images["created"].tolist(),
            "size": [int(v) for v in images["size_bytes"]],
            "content": [None if pd.isna(v) else int(v) for v in images["content_bytes"]],
            "shared": [int(v) for v in images["shared_bytes"]],
            "unique": [int(v) for v in images["unique_bytes"]],
            "containers": [int(v) for v in images["containers"]],
            "exact": [not bool(v) for v in images["estimated"]],
            "layers": [[layer_at[c] for c in chain] if isinstance(chain, tuple) else [] for chain in chains],
            "removal": [removal_at.get(i, -1) for i in images.index],
        },
        "tree": {
            "roots": list(tree.roots),
            "parent": [-1 if n.parent is None else n.parent for n in tree.nodes],
            "children": [list(n.children) for n in tree.nodes],
            "images": [[image_at[i] for i in n.image_ids] for n in tree.nodes],
            "layers": [[layer_at[c] for c in n.layers] for n in tree.nodes],
            "own": [n.own_bytes for n in tree.nodes],
            "subtree": [n.subtree_bytes for n in tree.nodes],
        },
        "removal": asdict(section.removal) if section.removal else None,
        "disk": None,
        "dupes": dupes_document(section.dupes, groups=DUPES_GROUPS) if section.dupes is not None else None,
    }
    if section.disk is not None:
        document["disk"] = {
            "on_disk_bytes": section.disk.on_disk_bytes,
            "categories": [asdict(c) for c in section.disk.categories],
        }
    return document


def page_document(sections: Sequence[PageSection]) -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (``layershare.page/v1``)."""
    return {
        "schema": PAGE_SCHEMA,
        "version": __version__,
        "sections": [section_document(s) for s in sections],
    }


def history_document(history: pd.DataFrame, title: str, image_id: str) -> dict[str, Any]:
    """One image's layers for a page of its own (``history --format html``)."""
    return {
        "schema": PAGE_SCHEMA,
        "version": __version__,
        "sections": [],
        "history": {
            "title": title,
            "image_id": image_id,
            "created_by": [_instruction(v) for v in history["created_by"]],
            "size": [int(v) for v in history["size_bytes"]],
            "chain_id": history["chain_id"].tolist(),
            "shared_with": [int(v) for v in history["shared_with"]],
        },
    }


def script_json(document: object) -> str:
    """JSON safe inside a ``<script type="application/json">`` element: no ``<``, ``>`` or ``&``
    survives literally, so no string can close the element or open a comment."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
        .translate(_C1_ESCAPED)
    )


# DEL and the C1 controls, which json.dumps leaves raw without ensure_ascii: a terminal showing the page's
# source would act on them.
_C1_ESCAPED = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


@cache
def _asset(name: str) -> str:
    return resources.files("layershare.render").joinpath("page", name).read_text(encoding="utf-8")


def render_document(document: dict[str, Any], title: str) -> str:
    """The page around a document: template, style, script and the charting library inlined."""
    from jinja2 import Environment

    environment = Environment(autoescape=True, keep_trailing_newline=True)
    template = environment.from_string(_asset("report.html.j2"))
    return template.render(
        title=title,
        data=script_json(document),
        style=_asset("report.css"),
        script=_asset("report.js"),
        charts=_asset("echarts.min.js"),
    )


def render_page(sections: Sequence[PageSection]) -> str:
    """The whole page for one or several engines."""
    if len(sections) == 1:
        title = f"layershare: {describe_engine(sections[0].report.index.engine)}"
    else:
        title = f"layershare: {len(sections)} engines"
    return render_document(page_document(sections), title)


def render_history_page(history: pd.DataFrame, title: str, image_id: str) -> str:
    """A page with one image's layers."""
    return render_document(history_document(history, title, image_id), f"layershare history: {title}")
