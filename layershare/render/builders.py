"""buildx builders for people and programs: their part of ``layershare.disk/v1`` (``builders[]``), their
rows, what their GC will do in words, and ``layershare builders`` (``layershare.builders/v1``)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from layershare.disk.builders import GCOutlook, gc_outlook
from layershare.formats import BuildersFormat
from layershare.model import EngineInfo
from layershare.model.builders import Builder, GCRule
from layershare.render.naming import describe_engine, engine_document, shorten
from layershare.times import now_iso
from layershare.units import human_size


def builder_document(builder: Builder, now_ns: int | None = None) -> dict[str, Any]:
    """One builder as ``builders[]`` of ``layershare.disk/v1`` says it."""
    outlook = gc_outlook(builder, time.time_ns() if now_ns is None else now_ns)
    pending = set(builder.use_pending)
    return {
        "name": builder.name,
        "driver": builder.driver,
        "container": builder.container or None,
        "container_id": builder.container_id or None,
        "image": builder.image or None,
        "state_volume": builder.state_volume,
        "running": builder.running,
        "read_from": builder.read_from or None,
        "unread_why": builder.unread_why or None,
        "records": None if builder.records is None else len(builder.records),
        "bytes": builder.bytes,
        "reclaimable_bytes": builder.reclaimable_bytes,
        "volume_bytes": builder.volume_bytes,
        "by_type": {t: {"records": n, "bytes": b} for t, (n, b) in builder.by_type.items()},
        "gc_enabled": builder.gc_enabled,
        "gc_policy_from": builder.gc_policy_from or None,
        "gc_policy": [
            {
                "all": r.all,
                "filters": list(r.filters),
                "keep_duration_ns": r.keep_duration_ns,
                "reserved_space": r.reserved_space,
                "max_used_space": r.max_used_space,
                "min_free_space": r.min_free_space,
            }
            for r in builder.gc_policy
        ],
        "gc": _outlook_document(outlook),
        "free_bytes": builder.free_bytes,
        "cache_records": [
            {
                "id": r.id,
                "type": r.type,
                "bytes": r.bytes,
                "in_use": r.in_use,
                "shared": r.shared,
                "created": r.created,
                "last_used": r.last_used,
                "usage_count": r.usage_count,
                "parents": list(r.parents),
                "description": r.description,
                "use_pending": r.id in pending,
            }
            for r in builder.records or ()
        ],
        "notes": list(builder.notes) + [n for n in [volume_note(builder)] if n],
    }


def _outlook_document(outlook: GCOutlook | None) -> dict[str, Any] | None:
    if outlook is None:
        return None
    first = outlook.starts_at
    return {
        "total_bytes": outlook.total_bytes,
        "starts_at_bytes": first.keep_bytes if first else None,
        "starts_with_rule": first.index if first else None,
        "deletes_now": [r.id for r in outlook.deletes_now],
        "deletes_now_bytes": sum(max(r.bytes, 0) for r in outlook.deletes_now),
        "rules": [
            {
                "rule": o.index,
                "keep_bytes": o.keep_bytes,
                "allowed_records": o.allowed,
                "allowed_bytes": o.allowed_bytes,
                "deletes": [r.id for r in o.deletes],
                "first": [r.id for r in o.first],
            }
            for o in outlook.rules
        ],
    }


def rule_text(rule: GCRule) -> str:
    """A rule in a few words: what it may delete and the sizes it keeps."""
    what = " or ".join(f.replace("type==", "") for f in rule.filters) if rule.filters else "any record"
    if rule.all:
        what += ", internal and frontend ones too"
    if rule.keep_duration_ns:
        what += f" unused for {_duration(rule.keep_duration_ns)}"
    limits = [
        f"{label} {human_size(value)}"
        for label, value in (
            ("reserved", rule.reserved_space),
            ("max used", rule.max_used_space),
            ("min free", rule.min_free_space),
        )
        if value
    ]
    return what + (f" ({', '.join(limits)})" if limits else "")


def _duration(ns: int) -> str:
    hours = ns / 3_600_000_000_000
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)} days"
    return f"{hours:g}h" if hours >= 1 else f"{ns / 1e9:g}s"


def gc_sentence(builder: Builder, now_ns: int | None = None) -> str:
    """What the builder's GC does, in one sentence ("GC starts at 512MB (…); it would delete …")."""
    if builder.records is None:
        return ""
    if not builder.gc_enabled:
        return "GC is off (--oci-worker-gc=false or gc = false): the cache grows until pruned by hand"
    outlook = gc_outlook(builder, time.time_ns() if now_ns is None else now_ns)
    if outlook is None:
        return "its GC policy is not known from here"
    now = outlook.deletes_now
    if now:
        size = sum(max(r.bytes, 0) for r in now)
        return (
            f"the cache ({human_size(outlook.total_bytes)}) is over its GC's limits: the next GC (a second "
            f"after the next build) deletes {len(now)} record(s), {human_size(size)}"
        )
    first = outlook.starts_at
    if not builder.records:
        return "no record for GC to delete"
    if first is None:
        return "no GC rule may delete any record now (all in use, shared or used too recently)"
    shown = ", ".join(f"{r.id[:12]} ({human_size(max(r.bytes, 0))})" for r in first.first)
    source = {"defaults": ", the defaults", "flags": ", its flags", "config": ", its config",
              "daemon.json": ", daemon.json"}.get(builder.gc_policy_from, "")  # fmt: skip
    return (
        f"GC starts at {human_size(first.keep_bytes)} (rule {first.index + 1}{source}: {rule_text(first.rule)}); "
        f"it may delete {first.allowed} record(s), {human_size(first.allowed_bytes)}, these first: {shown}"
    )


def volume_note(builder: Builder) -> str:
    """Why BuildKit's record sizes and the engine's size of the state volume differ."""
    if builder.bytes is None or builder.volume_bytes is None or builder.bytes == builder.volume_bytes:
        return ""
    return (
        f"BuildKit's records add up to {human_size(builder.bytes)} ({builder.bytes:,} B), the engine sizes "
        f"{builder.state_volume} at {human_size(builder.volume_bytes)} ({builder.volume_bytes:,} B): the "
        "volume also holds BuildKit's databases (cache.db, metadata_v2.db, the snapshotter's and the "
        "content store's), which stay after a prune, and BuildKit counts allocated blocks where the "
        "engine counts file lengths"
    )


def builder_row(builder: Builder) -> list[str]:
    """NAME, STATE, RECORDS, SIZE, RECLAIMABLE, VOLUME, READ FROM."""

    def size(value: int | None) -> str:
        return "-" if value is None else human_size(value)

    state = "running" if builder.running else ("stopped" if builder.container else "no container")
    return [
        builder.name,
        state,
        "-" if builder.records is None else str(len(builder.records)),
        size(builder.bytes),
        size(builder.reclaimable_bytes),
        size(builder.volume_bytes),
        builder.read_from or "-",
    ]


BUILDER_HEADERS = ["NAME", "STATE", "RECORDS", "SIZE", "RECLAIMABLE", "VOLUME", "READ FROM"]


BUILDERS_SCHEMA = "layershare.builders/v1"


def render_builders(
    engine: EngineInfo, builders: Sequence[Builder], fmt: BuildersFormat, *, top: int = 10
) -> str:
    """``layershare builders``: each builder's records by type, its largest records, its GC policy and
    what its GC will do; JSON is ``layershare.builders/v1`` (each builder as in ``disk``'s ``builders[]``)."""
    if fmt == BuildersFormat.JSON:
        doc = {
            "schema": BUILDERS_SCHEMA,
            "collected_at": now_iso(),
            "engine": engine_document(engine),
            "builders": [builder_document(b) for b in builders],
        }
        return json.dumps(doc, allow_nan=False) + "\n"
    from layershare.render.safe import tabulate

    markdown = fmt == BuildersFormat.MARKDOWN
    style = "github" if markdown else "simple"
    heading = "## " if markdown else ""
    parts = [describe_engine(engine)]
    if not builders:
        parts.append("No buildx builder (docker-container driver) on this engine.")
        return "\n\n".join(parts) + "\n"
    parts.append(tabulate([builder_row(b) for b in builders], headers=BUILDER_HEADERS, tablefmt=style,
                          disable_numparse=True, colalign=["left", "left", "right", "right", "right", "right", "left"]))  # fmt: skip
    for b in builders:
        lines = [f"{heading}Builder {b.name} ({b.container or 'no container'}, {b.image or '?'})"]
        if b.records is None:
            lines.append(f"Not read: {b.unread_why}")
        elif not b.records:
            lines.append("No cache record.")
        else:
            types = [[t, str(n), human_size(size)] for t, (n, size) in b.by_type.items()]
            lines.append(
                tabulate(types, headers=["TYPE", "RECORDS", "SIZE"], tablefmt=style, disable_numparse=True)
            )
            largest = sorted(b.records, key=lambda r: (-r.bytes, r.id))[:top]
            rows = [[r.id[:12], r.type, human_size(max(r.bytes, 0)), "yes" if r.in_use else "no",
                     r.last_used[:19].replace("T", " "), str(r.usage_count), shorten(r.description, 50)] for r in largest]  # fmt: skip
            lines.append(tabulate(rows, headers=["ID", "TYPE", "SIZE", "IN USE", "LAST USED", "USES", "DESCRIPTION"],
                                  tablefmt=style, disable_numparse=True))  # fmt: skip
        if b.records is not None and b.gc_enabled and b.gc_policy:
            source = {"buildkitd": "as buildkitd reports it", "defaults": "BuildKit's defaults",
                      "flags": "from its flags", "config": "from its buildkitd.toml"}.get(b.gc_policy_from, "")  # fmt: skip
            lines.append(f"GC policy ({source}):\n" + "\n".join(
                f"  {n + 1}. {rule_text(r)}" for n, r in enumerate(b.gc_policy)))  # fmt: skip
        said = [gc_sentence(b), volume_note(b), *b.notes]
        lines.append("\n".join(f"- {line}" for line in said if line))
        parts.append("\n\n".join(lines))
    return "\n\n".join(parts) + "\n"
