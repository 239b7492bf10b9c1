"""``layershare free`` for people and programs: table, Markdown and the ``layershare.free/v1`` JSON.

``FREE_RENDERERS`` maps every :class:`~layershare.formats.FreeFormat` to one renderer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from layershare.formats import FreeFormat
from layershare.free.whatif import FreeResult
from layershare.ids import short_id
from layershare.render.naming import describe_engine, engine_document
from layershare.render.safe import tabulate
from layershare.units import human_size

FREE_SCHEMA = "layershare.free/v1"


def free_document(result: FreeResult) -> dict[str, Any]:
    """The result as plain JSON-ready data (``layershare.free/v1``)."""
    return {
        "schema": FREE_SCHEMA,
        "collected_at": result.collected_at,
        "engine": engine_document(result.engine),
        "selection": list(result.selection),
        "freed_bytes": result.freed_bytes,
        "freed_disk_bytes": result.freed_disk_bytes,
        "shared_within_selection_bytes": result.shared_within_selection_bytes,
        "freed_disk_uncertain_bytes": result.freed_disk_uncertain_bytes,
        "freed_bytes_exact": result.freed_exact,
        "freed_min_bytes": result.freed_bytes if result.freed_min_bytes is None else result.freed_min_bytes,
        "freed_max_bytes": result.freed_bytes if result.freed_max_bytes is None else result.freed_max_bytes,
        "images": [
            {
                "id": i.id,
                "tags": list(i.tags),
                "removed_tags": list(i.removed_tags),
                "removed": i.removed,
                "freed_bytes": i.freed_bytes,
                "freed_disk_bytes": i.freed_disk_bytes,
                "blocked_by": list(i.blocked_by),
                "kept_bytes": i.kept_bytes,
                "kept_by": list(i.kept_by),
            }
            for i in result.images
        ],
        "containers": [
            {"id": c.id, "name": c.name, "freed_bytes": c.freed_bytes, "freed_disk_bytes": c.freed_disk_bytes}
            for c in result.containers
        ],
        "volumes": [
            {"name": v.name, "freed_bytes": v.freed_bytes, "freed_disk_bytes": v.freed_disk_bytes}
            for v in result.volumes
        ],
        "refused": [{"item": key, "why": list(why)} for key, why in result.refused.items()],
        "build_cache_bytes": result.build_cache_bytes,
        "build_cache_records": list(result.build_records),
        "builder_bytes": result.builder_bytes,
        "builder_records": list(result.builder_records),
        "commands": list(result.commands),
        "notes": list(result.notes),
    }


def _json(result: FreeResult) -> str:
    return json.dumps(free_document(result), separators=(",", ":")) + "\n"


def _size(value: int | None) -> str:
    return "-" if value is None else human_size(value)


def _freed(result: FreeResult) -> str:
    point = f"{human_size(result.freed_bytes)} ({result.freed_bytes:,} B)"
    if result.freed_exact:
        return point
    low, high = result.freed_min_bytes or 0, result.freed_max_bytes or 0
    return f"about {point}, between {human_size(low)} and {human_size(high)} (estimate: see the notes)"


def _summary(result: FreeResult) -> list[tuple[str, str]]:
    return [
        ("Would free (engine's own accounting)", _freed(result)),
        (
            "Would free on disk (metadata left out)",
            "-"
            if result.freed_disk_bytes is None
            else human_size(result.freed_disk_bytes)
            + (
                f" to {human_size(result.freed_disk_bytes + result.freed_disk_uncertain_bytes)}"
                if result.freed_disk_uncertain_bytes
                else ""
            ),
        ),
        ("Freed only because selected items go together", human_size(result.shared_within_selection_bytes)),
        ("Build cache", human_size(result.build_cache_bytes)),
        *(
            [
                (
                    "buildx builders' records",
                    f"{human_size(result.builder_bytes)} ({len(result.builder_records)} records)",
                )
            ]
            if result.builder_records
            else []
        ),
    ]


def _image_rows(result: FreeResult) -> list[list[str]]:
    return [
        [
            short_id(i.id),
            ", ".join(i.tags) or "<none>",
            "removed" if i.removed else ("untagged" if i.removed_tags else "kept"),
            _size(i.freed_bytes),
            "; ".join(i.blocked_by) or "-",
            f"{_size(i.kept_bytes)}: {'; '.join(i.kept_by)}" if i.kept_bytes else "-",
        ]
        for i in result.images
    ]


def _table(result: FreeResult, fmt: str) -> str:
    out = [f"{describe_engine(result.engine)}", f"Selection: {' '.join(result.selection) or '(nothing)'}", ""]
    out.append(tabulate(_summary(result), tablefmt=fmt if fmt == "github" else "plain"))
    if result.images:
        out += [
            "",
            tabulate(
                _image_rows(result), ["IMAGE", "TAGS", "RESULT", "FREES", "BLOCKED BY", "STAYS"], tablefmt=fmt
            ),
        ]
    if result.containers:
        rows = [[short_id(c.id), c.name, _size(c.freed_bytes)] for c in result.containers]
        out += ["", tabulate(rows, ["CONTAINER", "NAME", "FREES"], tablefmt=fmt)]
    if result.volumes:
        rows = [[v.name, _size(v.freed_bytes)] for v in result.volumes]
        out += ["", tabulate(rows, ["VOLUME", "FREES"], tablefmt=fmt)]
    if result.refused:
        rows = [
            [key.split(":", 1)[0], key.split(":", 1)[1][:19], "; ".join(why)]
            for key, why in result.refused.items()
        ]
        out += ["", tabulate(rows, ["KEPT", "ID OR NAME", "WHY"], tablefmt=fmt)]
    if result.commands:
        fence = ["```"] if fmt == "github" else []
        out += ["", "Commands that would do it (not run):", *fence, *result.commands, *fence]
    if result.notes:
        out += ["", *(f"Note: {n}" for n in result.notes)]
    return "\n".join(out) + "\n"


FREE_RENDERERS: dict[FreeFormat, Callable[[FreeResult], str]] = {
    FreeFormat.TABLE: lambda r: _table(r, "simple"),
    FreeFormat.MARKDOWN: lambda r: _table(r, "github"),
    FreeFormat.JSON: _json,
}


def render_free(result: FreeResult, fmt: FreeFormat) -> str:
    """The result in one format."""
    return FREE_RENDERERS[fmt](result)
