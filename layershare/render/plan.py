"""``layershare plan`` for people and programs: table, Markdown and the ``layershare.plan/v1`` JSON.

``PLAN_RENDERERS`` maps every :class:`~layershare.formats.FreeFormat` to one renderer (plan speaks
free's formats).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from layershare.formats import FreeFormat
from layershare.free.choose import PlanResult
from layershare.ids import short_id
from layershare.render.naming import describe_engine, engine_document
from layershare.render.safe import tabulate
from layershare.units import human_size

PLAN_SCHEMA = "layershare.plan/v1"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="seconds") if at > 0 else ""


def plan_document(planned: PlanResult) -> dict[str, Any]:
    """The plan as plain JSON-ready data (``layershare.plan/v1``)."""
    choice, result = planned.choice, planned.result
    target = choice.target
    return {
        "schema": PLAN_SCHEMA,
        "collected_at": result.collected_at,
        "engine": engine_document(result.engine),
        "target": {
            "kind": target.kind,
            "text": target.text,
            "bytes": target.size if target.share is None else None,
            "share": target.share,
            "needed_bytes": max(choice.needed, 0),
        },
        "reached": choice.reached,
        "freed_bytes": result.freed_bytes,
        "freed_disk_bytes": result.freed_disk_bytes,
        "freed_bytes_exact": result.freed_exact,
        "freed_min_bytes": result.freed_min_bytes,
        "freed_max_bytes": result.freed_max_bytes,
        "measured_bytes": choice.measured,
        "filesystem": (
            None
            if planned.filesystem is None
            else {"free_bytes": planned.filesystem[0], "size_bytes": planned.filesystem[1]}
        ),
        "items": [
            {
                "id": c.id,
                "kind": c.kind,
                "tags": list(c.tags),
                "last_used": _when(c.last_used.at),
                "last_used_source": c.last_used.source,
                "freed_bytes": c.freed_bytes,
                "total_bytes": c.total_bytes,
            }
            for c in choice.chosen
        ],
        "kept": [{"id": k.id, "kind": k.kind, "tags": list(k.tags), "reason": k.reason} for k in choice.kept],
        "commands": list(result.commands),
        "applied": planned.applied_bytes is not None,
        "applied_freed_bytes": planned.applied_bytes,
        "notes": [*choice.notes, *result.notes],
    }


def _json(planned: PlanResult) -> str:
    return json.dumps(plan_document(planned), separators=(",", ":")) + "\n"


def _table(planned: PlanResult, fmt: str) -> str:
    choice, result = planned.choice, planned.result
    out = [describe_engine(result.engine), f"Target: {choice.target.describe()}", ""]
    if choice.needed <= 0:
        out.append("The target is met already: nothing to remove.")
    rows = [
        [
            short_id(c.id),
            c.name,
            f"{_when(c.last_used.at)[:16].replace('T', ' ')} ({c.last_used.source})",
            human_size(c.freed_bytes),
            human_size(c.total_bytes),
        ]
        for c in choice.chosen
    ]
    if rows:
        out.append(tabulate(rows, ["IMAGE", "TAGS", "LAST USED", "FREES", "TOTAL"], tablefmt=fmt))
        out.append("")
    verdict = "reached" if choice.reached else "NOT reached (the most these rules can free)"
    exact = "" if result.freed_exact else " (an estimate: see the notes)"
    out.append(f"Frees {human_size(result.freed_bytes)} ({result.freed_bytes:,} B){exact}: target {verdict}")
    if result.freed_disk_bytes is not None:
        out.append(f"On disk: {human_size(result.freed_disk_bytes)} ({result.freed_disk_bytes:,} B)")
    if choice.kept and not choice.reached:
        kept = [[short_id(k.id), k.name, k.reason] for k in choice.kept]
        out += ["", tabulate(kept, ["KEPT", "TAGS", "WHY"], tablefmt=fmt)]
    if result.commands:
        fence = ["```"] if fmt == "github" else []
        done = "carried out" if planned.applied_bytes is not None else "not run"
        out += ["", f"Commands, in this order ({done}):", *fence, *result.commands, *fence]
    if planned.applied_bytes is not None:
        out += ["", f"Removed: predicted {result.freed_bytes:,} B, the engine's accounting dropped by "
                    f"{planned.applied_bytes:,} B"]  # fmt: skip
    notes = [*choice.notes, *result.notes]
    if notes:
        out += ["", *(f"Note: {n}" for n in notes)]
    return "\n".join(out) + "\n"


PLAN_RENDERERS: dict[FreeFormat, Callable[[PlanResult], str]] = {
    FreeFormat.TABLE: lambda p: _table(p, "simple"),
    FreeFormat.MARKDOWN: lambda p: _table(p, "github"),
    FreeFormat.JSON: _json,
}


def render_plan(planned: PlanResult, fmt: FreeFormat) -> str:
    """The plan in one format."""
    return PLAN_RENDERERS[fmt](planned)
