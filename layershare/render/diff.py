"""``layershare diff`` for people (table, Markdown for a PR comment) and as ``layershare.diff/v1`` JSON.

``DIFF_RENDERERS`` maps every :class:`~layershare.formats.DiffFormat` to one renderer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from layershare.diff.files import FileChanges
from layershare.diff.images import DiffLayer, HostDiff, ImageDiff, ImageSide
from layershare.disk.saved_diff import DiskDiff
from layershare.formats import DiffFormat
from layershare.ids import short_id
from layershare.render.naming import describe_engine, engine_document, shorten
from layershare.render.report_json import totals_document
from layershare.render.safe import tabulate
from layershare.units import human_size

DIFF_SCHEMA = "layershare.diff/v1"
Diff = ImageDiff | HostDiff | DiskDiff


def signed_size(size_bytes: int) -> str:
    """``+200MB``, ``-3kB``, ``+0B``."""
    return ("+" if size_bytes >= 0 else "-") + human_size(abs(size_bytes))


def _percent(change: int, base: int) -> str:
    return f" ({change / base * 100:+.1f}%)" if base else ""


# --- JSON ---


def _layer_document(layer: DiffLayer) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "chain_id": layer.chain_id,
        "diff_id": layer.diff_id,
        "size_bytes": layer.size_bytes,
        "created_by": layer.created_by,
    }
    if layer.position is not None:
        doc["position"] = layer.position
        doc["same_content_as"] = layer.same_content_as
    if layer.images is not None:
        doc["images"] = layer.images
    return doc


def _side_document(side: ImageSide) -> dict[str, Any]:
    return {
        "label": side.label,
        "source": side.source,
        "id": side.image_id,
        "tags": list(side.tags),
        "size_bytes": side.size_bytes,
        "layers": len(side.layers),
        "chain_ids": [layer.chain_id for layer in side.layers],
    }


def _files_document(files: FileChanges | None) -> list[dict[str, Any]]:
    if files is None:
        return []
    return [
        {
            "path": c.path,
            "change": c.change,
            "old_bytes": c.old_bytes,
            "new_bytes": c.new_bytes,
            "size_change_bytes": c.size_change_bytes,
            "layer": c.layer,
        }
        for c in files.changes
    ]


def _disk_document(diff: DiskDiff) -> dict[str, Any]:
    sides = {
        name: {
            "label": side.label,
            "engine": engine_document(side.engine),
            "collected_at": side.collected_at,
            "on_disk_bytes": side.on_disk_bytes,
        }
        for name, side in (("old", diff.old), ("new", diff.new))
    }
    return {
        "schema": DIFF_SCHEMA,
        "kind": "disk",
        **sides,
        "size_change_bytes": diff.size_change_bytes,
        "added_bytes": diff.added_bytes,
        "removed_bytes": diff.removed_bytes,
        "categories": [
            {
                "category": c.category,
                "old_bytes": c.old_bytes,
                "new_bytes": c.new_bytes,
                "bytes_change": c.bytes_change,
                "old_disk_bytes": c.old_disk_bytes,
                "new_disk_bytes": c.new_disk_bytes,
                "disk_bytes_change": c.disk_bytes_change,
            }
            for c in diff.categories
        ],
        "items": [
            {
                "kind": i.kind,
                "name": i.name,
                "change": i.change,
                "old_bytes": i.old_bytes,
                "new_bytes": i.new_bytes,
                "size_change_bytes": i.size_change_bytes,
            }
            for i in diff.items
        ],
        "common_layers": None,
        "added_layers": [],
        "removed_layers": [],
        "files": [],
        "notes": [],
    }


def diff_document(diff: Diff) -> dict[str, Any]:
    """The ``layershare.diff/v1`` document (``kind`` says which: ``image``, ``host`` or ``disk``)."""
    if isinstance(diff, DiskDiff):
        return _disk_document(diff)
    doc: dict[str, Any] = {"schema": DIFF_SCHEMA}
    if isinstance(diff, ImageDiff):
        doc |= {
            "kind": "image",
            "old": _side_document(diff.old),
            "new": _side_document(diff.new),
            "size_change_bytes": diff.size_change_bytes,
        }
    else:
        doc |= {
            "kind": "host",
            "old": {"label": diff.old.label, "engine": engine_document(diff.old.engine),
                    "totals": totals_document(diff.old.totals)},
            "new": {"label": diff.new.label, "engine": engine_document(diff.new.engine),
                    "totals": totals_document(diff.new.totals)},
            "size_change_bytes": diff.size_change_bytes,
            "totals_change": diff.totals_change(),
            "images": [
                {"change": c.kind, "reference": c.reference, "old_id": c.old_id, "new_id": c.new_id,
                 "old_bytes": c.old_bytes, "new_bytes": c.new_bytes, "size_change_bytes": c.size_change_bytes,
                 "old_tags": list(c.old_tags), "new_tags": list(c.new_tags)}
                for c in diff.images
            ],
        }  # fmt: skip
    doc |= {
        "added_bytes": diff.added_bytes,
        "removed_bytes": diff.removed_bytes,
        "common_layers": diff.common_layers,
        "added_layers": [_layer_document(layer) for layer in diff.added_layers],
        "removed_layers": [_layer_document(layer) for layer in diff.removed_layers],
        "files": _files_document(diff.files if isinstance(diff, ImageDiff) else None),
        "notes": list(diff.notes),
    }
    return doc


def _json(diff: Diff) -> str:
    return json.dumps(diff_document(diff), indent=2, allow_nan=False) + "\n"


# --- table and Markdown ---


def headline(diff: ImageDiff, *, markdown: bool = False) -> str:
    """``app:2 is +200MB (+12.0%) over app:1; layer 5 `RUN pip install …` +180MB``."""
    quote = "`" if markdown else ""
    old, new = diff.old.name, diff.new.name
    if new == old:
        old, new = f"{old} ({short_id(diff.old.image_id)})", f"{new} ({short_id(diff.new.image_id)})"
    change = diff.size_change_bytes
    text = f"{quote}{new}{quote} is {signed_size(change)}{_percent(change, diff.old.size_bytes)} over {quote}{old}{quote}"
    if diff.added_layers:
        largest = max(diff.added_layers, key=lambda layer: layer.size_bytes)
        instruction = shorten(largest.created_by or "(no instruction recorded)", 50)
        text += f"; layer {largest.position} `{instruction}` {signed_size(largest.size_bytes)}"
    return text


def _layer_rows(layers: tuple[DiffLayer, ...], sign: str, top: int | None) -> list[list[str]]:
    shown = layers if top is None else layers[:top]
    rows = []
    for layer in shown:
        where = "" if layer.position is None else str(layer.position)
        twin = "" if layer.same_content_as is None else f" (same content as layer {layer.same_content_as})"
        users = "" if layer.images is None else str(layer.images)
        instruction = shorten(layer.created_by or "-", 60) + twin
        rows.append([sign, where, instruction, human_size(layer.size_bytes), short_id(layer.chain_id), users])
    return rows


def _layers_table(diff: ImageDiff | HostDiff, fmt: str, top: int | None) -> str:
    rows = _layer_rows(diff.added_layers, "+", top) + _layer_rows(diff.removed_layers, "-", top)
    if not rows:
        return (
            "No layer differs." if isinstance(diff, ImageDiff) else "No stored layer appeared or disappeared."
        )
    host = isinstance(diff, HostDiff)
    headers = ["", "" if host else "Layer", "Instruction", "Size", "Chain ID", "Images" if host else ""]
    if not host:
        rows = [r[:-1] for r in rows]
        headers = headers[:-1]
    else:
        rows = [[r[0], *r[2:]] for r in rows]
        headers = [headers[0], *headers[2:]]
    return tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True)


def _files_table(files: FileChanges, fmt: str, top: int | None) -> str:
    shown = files.changes if top is None else files.changes[:top]
    rows = [[c.change, shorten(c.path, 70), signed_size(c.size_change_bytes), str(c.layer)] for c in shown]
    counts = (
        f"{files.count('added')} added, {files.count('removed')} removed, {files.count('changed')} changed"
    )
    more = f" (largest {len(shown)} shown)" if len(shown) < len(files.changes) else ""
    if not rows:
        return "No file differs."
    table = tabulate(rows, headers=["", "Path", "Change", "Layer"], tablefmt=fmt, disable_numparse=True)
    return f"Files: {counts}{more}\n{table}"


def _side_text(side: ImageSide) -> str:
    where = "" if side.label == side.name else f", {side.label}"
    return f"{side.name} ({short_id(side.image_id)}){where}"


def _image_text(diff: ImageDiff, fmt: str, top: int | None) -> str:
    markdown = fmt == "github"
    heading = "### " if markdown else ""
    summary = [
        ["Old", _side_text(diff.old), human_size(diff.old.size_bytes)],
        ["New", _side_text(diff.new), human_size(diff.new.size_bytes)],
        ["Size change", "NEW - OLD, as the engine sizes them", signed_size(diff.size_change_bytes)],
        ["Layers in common", f"{diff.common_layers} (stored once)", ""],
        ["Layers only in new", str(len(diff.added_layers)), signed_size(diff.added_bytes)],
        ["Layers only in old", str(len(diff.removed_layers)), signed_size(-diff.removed_bytes)],
    ]  # fmt: skip
    parts = [
        f"{heading}{headline(diff, markdown=markdown)}",
        tabulate(summary, tablefmt=fmt, disable_numparse=True, headers=["", "", "Bytes"]),
        _layers_table(diff, fmt, top),
    ]
    if diff.files is not None:
        parts.append(_files_table(diff.files, fmt, top))
    parts += [f"Note: {n}" for n in diff.notes]
    return "\n\n".join(parts) + "\n"


def _host_text(diff: HostDiff, fmt: str, top: int | None) -> str:
    markdown = fmt == "github"
    heading = "### " if markdown else ""
    change = diff.totals_change()
    old, new = diff.old.totals, diff.new.totals
    totals = [
        [label, str(getattr(old, key)) if count else human_size(getattr(old, key)),
         str(getattr(new, key)) if count else human_size(getattr(new, key)),
         f"{change[key]:+d}" if count else signed_size(change[key])]
        for label, key, count in (
            ("Images", "images", True), ("Tags", "tags", True), ("Stored layers", "layers", True),
            ("Listed size", "listed_bytes", False), ("Logical size", "logical_bytes", False),
            ("Physical size", "physical_bytes", False), ("Saved by sharing", "saved_bytes", False),
        )
    ]  # fmt: skip
    physical = diff.size_change_bytes
    title = (
        f"{heading}{diff.new.label} is {signed_size(physical)}{_percent(physical, old.physical_bytes)} "
        f"on disk over {diff.old.label}"
    )
    parts = [
        title,
        f"Old: {describe_engine(diff.old.engine)}\nNew: {describe_engine(diff.new.engine)}",
        tabulate(totals, headers=["", "Old", "New", "Change"], tablefmt=fmt, disable_numparse=True),
    ]
    images = diff.images if top is None else diff.images[:top]
    if images:
        rows = [
            [c.kind, shorten(c.reference, 50),
             short_id(c.old_id) if c.old_id else "", short_id(c.new_id) if c.new_id else "",
             signed_size(c.size_change_bytes),
             ", ".join(c.new_tags or c.old_tags) if c.kind == "retagged" else ""]
            for c in images
        ]  # fmt: skip
        parts.append(
            tabulate(rows, headers=["Image", "Reference", "Old ID", "New ID", "Change", "Tags now"],
                     tablefmt=fmt, disable_numparse=True)
        )  # fmt: skip
    else:
        parts.append("No image was added, removed, retagged or changed.")
    parts.append(_layers_table(diff, fmt, top))
    parts += [f"Note: {n}" for n in diff.notes]
    return "\n\n".join(parts) + "\n"


def _maybe(value: int | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return signed_size(value) if signed else human_size(value)


def _disk_text(diff: DiskDiff, fmt: str, top: int | None) -> str:
    heading = "### " if fmt == "github" else ""
    change = diff.size_change_bytes
    old_total = diff.old.on_disk_bytes
    if change is None:
        title = f"{heading}{diff.new.label} against {diff.old.label}: the data root was not walked on both"
    else:
        title = f"{heading}{diff.new.label} is {signed_size(change)}{_percent(change, old_total or 0)} on disk over {diff.old.label}"
    rows = [
        [c.category, _maybe(c.old_bytes), _maybe(c.new_bytes), _maybe(c.bytes_change, True),
         _maybe(c.disk_bytes_change, True)]
        for c in diff.categories
    ]  # fmt: skip
    rows.append(
        [
            "on disk (du)",
            _maybe(diff.old.on_disk_bytes),
            _maybe(diff.new.on_disk_bytes),
            "",
            _maybe(change, True),
        ]
    )
    parts = [
        title,
        f"Old: {diff.old.collected_at} {describe_engine(diff.old.engine)}\n"
        f"New: {diff.new.collected_at} {describe_engine(diff.new.engine)}",
        tabulate(rows, headers=["Category", "Old", "New", "Change", "Change on disk"], tablefmt=fmt,
                 disable_numparse=True),
    ]  # fmt: skip
    items = diff.items if top is None else diff.items[:top]
    if items:
        item_rows = [[i.kind, shorten(i.name, 60), i.change, signed_size(i.size_change_bytes)] for i in items]
        parts.append(
            tabulate(item_rows, headers=["Item", "Name", "", "Change"], tablefmt=fmt, disable_numparse=True)
        )
    else:
        parts.append("No container, volume, build-cache record or orphan changed.")
    return "\n\n".join(parts) + "\n"


def _text(diff: Diff, fmt: str, top: int | None) -> str:
    if isinstance(diff, ImageDiff):
        return _image_text(diff, fmt, top)
    if isinstance(diff, DiskDiff):
        return _disk_text(diff, fmt, top)
    return _host_text(diff, fmt, top)


DIFF_RENDERERS: dict[DiffFormat, Callable[[Diff, int | None], str]] = {
    DiffFormat.TABLE: lambda d, top: _text(d, "simple", top),
    DiffFormat.MARKDOWN: lambda d, top: _text(d, "github", top),
    DiffFormat.JSON: lambda d, top: _json(d),
}


def render_diff(diff: Diff, fmt: DiffFormat, *, top: int | None = 20) -> str:
    """A diff in one format; ``top`` bounds table rows (JSON holds every row)."""
    return DIFF_RENDERERS[fmt](diff, top)
