"""``layershare disk`` for people and programs: table, Markdown, CSV and the ``layershare.disk/v1`` JSON.

``DISK_RENDERERS`` maps every :class:`~layershare.formats.DiskFormat` to one renderer.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from layershare.disk.categories import DiskReport, sum_known
from layershare.formats import DiskFormat
from layershare.ids import short_id
from layershare.model import CATEGORIES, DiskSnapshot, Usage
from layershare.render.builders import (
    BUILDER_HEADERS,
    builder_document,
    builder_row,
    gc_sentence,
    volume_note,
)
from layershare.render.naming import describe_engine, engine_document, shorten
from layershare.render.safe import SafeCsvWriter
from layershare.units import human_size

DISK_SCHEMA = "layershare.disk/v1"
DISKS_SCHEMA = "layershare.disks/v1"
CATEGORY_LABELS = {
    "images": "images (stored layers)",
    "containers": "containers (writable layers)",
    "logs": "container logs",
    "volumes": "volumes",
    "build_cache": "build cache",
    "builders": "buildx builders (state volumes)",
    "inactive_store": "inactive image store (switched)",
    "other_namespaces": "other containerd namespaces",
    "metadata": "engine metadata",
    "orphans": "orphans (nothing references them)",
    "unaccounted": "unaccounted",
}
_ORPHAN_ADVICE = (
    "Orphans are never touched by layershare or by docker's prune. To remove one safely: stop the "
    "engine (systemctl stop docker docker.socket), check again that nothing references it, remove it, "
    "start the engine."
)

_NODE_ORPHAN_ADVICE = (
    "Orphans are never touched by layershare. containerd's garbage collector removes a blob or snapshot "
    "nothing references when it next runs; check again later before removing anything by hand."
)
_NODE_RECLAIMABLE = (
    "RECLAIMABLE is not said for containerd without dockerd: containerd is not asked which containers run, "
    "and on a node the kubelet's image garbage collection decides what goes (CONTAINERS counts each "
    "container's writable snapshot as containerd sizes it)"
)


def _inactive_advice(store: str, data_root: str) -> str:
    root = data_root.rstrip("/")
    if store == "containerd":
        return (
            f"The containerd image store under {root}/containerd/daemon is what the engine used before it "
            "switched back to a graphdriver; docker's prune never reaches it. To keep an image from it: set "
            '"containerd-snapshotter": true in daemon.json, restart the engine, docker image save it, switch '
            "back and docker image load it. To free the space: switch to it the same way, remove its images "
            "(docker image prune -a), and switch back."
        )
    return (
        f"The {store} image store under {root} is what the engine used before it switched to the "
        "containerd image store; docker's prune never reaches it. To keep an image from it: set "
        '"containerd-snapshotter": false in daemon.json, restart the engine, docker image save it, switch '
        f"back and docker image load it. To free the space: stop the engine and remove {root}/{store} and "
        f"{root}/image/{store}."
    )


def _size(value: int | None) -> str:
    return "-" if value is None else human_size(value)


def _disk(usage: Usage | None) -> int | None:
    return None if usage is None else usage.disk_bytes


def _bytes(usage: Usage | None) -> int | None:
    return None if usage is None else usage.bytes


def disk_document(report: DiskReport) -> dict[str, Any]:
    """One engine's disk as plain JSON-ready data (``layershare.disk/v1``)."""
    snap = report.snapshot
    return {
        "schema": DISK_SCHEMA,
        "collected_at": snap.collected_at,
        "engine": engine_document(snap.engine),
        "data_root": snap.data_root,
        "data_root_readable": snap.data_root_readable,
        "roots": [{"path": r.path, "on_disk_bytes": r.disk_bytes} for r in snap.roots],
        "on_disk_bytes": report.on_disk_bytes,
        "categories": [
            {
                "category": c.category,
                "bytes": c.bytes,
                "disk_bytes": c.disk_bytes,
                "reclaimable_bytes": c.reclaimable_bytes,
            }
            for c in report.categories
        ],
        "volume_prune": "all unused" if snap.volume_prune_all else "anonymous unused",
        "containers": [
            {
                "id": c.id,
                "name": c.name,
                "image": c.image,
                "image_id": c.image_id,
                "state": c.state,
                "size_rw_bytes": c.size_rw_bytes,
                "disk_bytes": _disk(c.disk),
                "log_bytes": _bytes(c.log),
                "log_disk_bytes": _disk(c.log),
                "log_path": c.log_path,
            }
            for c in snap.containers
        ],
        "volumes": [
            {
                "name": v.name,
                "driver": v.driver,
                "bytes": v.bytes,
                "disk_bytes": _disk(v.disk),
                "containers": list(v.containers),
                "anonymous": v.anonymous,
            }
            for v in snap.volumes
        ],
        "build_cache": [
            {
                "id": r.id,
                "type": r.type,
                "bytes": r.bytes,
                "shared": r.shared,
                "in_use": r.in_use,
                "last_used": r.last_used,
                "description": r.description,
            }
            for r in snap.build_cache
        ],
        "builders": [builder_document(b) for b in snap.builders],
        "build_cache_gc": _engine_gc(snap),
        "orphans": [
            {
                "root": o.root,
                "path": o.path,
                "kind": o.kind,
                "bytes": o.usage.bytes,
                "disk_bytes": o.usage.disk_bytes,
                "why": o.why,
            }
            for o in snap.orphans
        ],
        "inactive_stores": [
            {
                "store": i.store,
                "path": i.path,
                "bytes": i.bytes,
                "disk_bytes": i.disk_bytes,
                "images": [{"id": m.id, "tags": list(m.tags), "bytes": m.bytes} for m in i.images],
            }
            for i in snap.inactive_stores
        ],
        "notes": list(snap.notes),
    }


def _engine_gc(snap: DiskSnapshot) -> dict[str, Any] | None:
    """The engine's own BuildKit's GC: its policy and outlook (as ``builders[]`` give theirs)."""
    engine = snap.build_cache_gc
    if engine is None:
        return None
    doc = builder_document(engine)
    keep = ("gc_enabled", "gc_policy_from", "gc_policy", "gc", "free_bytes", "notes")
    return {k: doc[k] for k in keep}


def render_disk_json(reports: Sequence[DiskReport]) -> str:
    """``layershare.disk/v1`` for one engine; ``layershare.disks/v1`` (each engine and the sums) for several."""
    if len(reports) == 1:
        return json.dumps(disk_document(reports[0]), allow_nan=False) + "\n"
    totals: dict[str, Any] = {
        "on_disk_bytes": sum_known([r.on_disk_bytes for r in reports]),
        "categories": [],
    }
    for name in CATEGORIES:
        rows = [r.category(name) for r in reports]
        totals["categories"].append(
            {
                "category": name,
                "bytes": sum_known([c.bytes for c in rows]),
                "disk_bytes": sum_known([c.disk_bytes for c in rows]),
                "reclaimable_bytes": sum_known([c.reclaimable_bytes for c in rows]),
            }
        )
    doc = {"schema": DISKS_SCHEMA, "totals": totals, "engines": [disk_document(r) for r in reports]}
    return json.dumps(doc, allow_nan=False) + "\n"


def render_disk_csv(reports: Sequence[DiskReport]) -> str:
    """One row per category and per item (container, log, volume, build-cache record, orphan), exact bytes."""
    buffer = io.StringIO()
    out = SafeCsvWriter(csv.writer(buffer, lineterminator="\n"))
    out.writerow(["engine", "kind", "id", "name", "category", "bytes", "disk_bytes", "reclaimable_bytes"])
    for report in reports:
        snap = report.snapshot
        host = snap.engine.host
        for c in report.categories:
            out.writerow(
                [host, "category", c.category, "", c.category, c.bytes, c.disk_bytes, c.reclaimable_bytes]
            )
        for ct in snap.containers:
            stopped = not ct.running
            out.writerow([host, "container", ct.id, ct.name, "containers", ct.size_rw_bytes, _disk(ct.disk),
                          ct.size_rw_bytes if stopped else 0])  # fmt: skip
            out.writerow([host, "log", ct.id, ct.name, "logs", _bytes(ct.log), _disk(ct.log),
                          (_bytes(ct.log) if stopped else 0) if ct.log else None])  # fmt: skip
        for v in snap.volumes:
            out.writerow([host, "volume", v.name, v.name, "volumes", v.bytes, _disk(v.disk), ""])
        for r in snap.build_cache:
            out.writerow([host, "build_cache", r.id, r.type, "build_cache", r.bytes, "", ""])
        for b in snap.builders:
            out.writerow([host, "builder", b.state_volume, b.name, "builders", b.volume_bytes, "",
                          b.reclaimable_bytes if b.reclaimable_bytes is not None else ""])  # fmt: skip
        for o in snap.orphans:
            out.writerow(
                [host, "orphan", o.path, o.kind, "orphans", o.usage.bytes, o.usage.disk_bytes, o.usage.bytes]
            )
        for i in snap.inactive_stores:
            out.writerow(
                [host, "inactive_store", i.path, i.store, "inactive_store", i.bytes, i.disk_bytes, 0]
            )
            for m in i.images:
                out.writerow(
                    [host, "inactive_image", m.id, ",".join(m.tags), "inactive_store", m.bytes, "", 0]
                )
    return buffer.getvalue()


def _table(rows: list[list[str]], headers: list[str], markdown: bool, right: set[int]) -> str:
    from layershare.render.safe import tabulate

    return tabulate(
        rows,
        headers=headers,
        tablefmt="github" if markdown else "simple",
        colalign=["right" if i in right else "left" for i in range(len(headers))],
        disable_numparse=True,
    )


def render_disk_text(reports: Sequence[DiskReport], *, top: int, markdown: bool) -> str:
    """The category summary, then the largest containers, logs, volumes, build cache and orphans."""
    heading = "## " if markdown else ""
    parts = []
    if len(reports) > 1:
        rows = [
            [describe_engine(r.snapshot.engine), _size(r.on_disk_bytes),
             _size(sum_known([c.reclaimable_bytes for c in r.categories if c.category != "orphans"]))]
            for r in reports
        ]  # fmt: skip
        rows.append([f"all {len(reports)} engines", _size(sum_known([r.on_disk_bytes for r in reports])), ""])
        parts.append(
            f"{heading}Engines\n\n" + _table(rows, ["ENGINE", "ON DISK", "RECLAIMABLE"], markdown, {1, 2})
        )
    for report in reports:
        parts.append(_engine_text(report, top=top, markdown=markdown))
    return "\n\n".join(parts) + "\n"


def _engine_text(report: DiskReport, *, top: int, markdown: bool) -> str:
    snap = report.snapshot
    heading = "## " if markdown else ""
    where = ", ".join(f"{r.path} ({_size(r.disk_bytes)})" for r in snap.roots)
    parts = [f"{heading}{describe_engine(snap.engine)}\nData root: {where}"]
    rows = [
        [CATEGORY_LABELS[c.category], _size(c.bytes), _size(c.disk_bytes), _size(c.reclaimable_bytes)]
        for c in report.categories
    ]
    rows.append(["total under the data root", "", _size(report.on_disk_bytes), ""])
    parts.append(_table(rows, ["CATEGORY", "SIZE", "ON DISK", "RECLAIMABLE"], markdown, {1, 2, 3}))
    sections: list[tuple[str, list[str], list[list[str]], set[int]]] = []
    containers = sorted(snap.containers, key=lambda c: -(c.size_rw_bytes + (_bytes(c.log) or 0)))[:top]
    if containers:
        sections.append((
            "Containers",
            ["NAME", "ID", "STATE", "WRITABLE", "LOGS", "IMAGE"],
            [[shorten(c.name, 30), short_id(c.id), c.state, human_size(c.size_rw_bytes),
              _size(_bytes(c.log)), shorten(c.image, 30)] for c in containers],
            {3, 4},
        ))  # fmt: skip
    if snap.volumes:
        sections.append((
            "Volumes",
            ["NAME", "DRIVER", "SIZE", "ON DISK", "USED BY"],
            [[shorten(v.name, 40), v.driver, _size(v.bytes), _size(_disk(v.disk)),
              ", ".join(v.containers) or "-"] for v in snap.volumes[:top]],
            {2, 3},
        ))  # fmt: skip
    if snap.build_cache:
        sections.append((
            "Build cache",
            ["ID", "TYPE", "SIZE", "SHARED", "IN USE", "DESCRIPTION"],
            [[r.id[:12], r.type, human_size(r.bytes), "yes" if r.shared else "no", "yes" if r.in_use else "no",
              shorten(r.description, 50)] for r in snap.build_cache[:top]],
            {2},
        ))  # fmt: skip
    if snap.builders:
        sections.append(
            ("Buildx builders", BUILDER_HEADERS, [builder_row(b) for b in snap.builders], {2, 3, 4, 5})
        )
    if snap.orphans:
        sections.append((
            "Orphans",
            ["PATH", "KIND", "SIZE", "ON DISK", "WHY"],
            [[shorten(o.path, 50), o.kind, human_size(o.usage.bytes), human_size(o.usage.disk_bytes),
              shorten(o.why, 60)] for o in snap.orphans[:top]],
            {2, 3},
        ))  # fmt: skip
    for store in snap.inactive_stores:
        sections.append((
            f"Inactive image store: {store.store} ({len(store.images)} images docker image ls no longer shows)",
            ["IMAGE", "ID", "SIZE"],
            [[shorten(", ".join(m.tags) or "<none>", 50), short_id(m.id), human_size(m.bytes)]
             for m in sorted(store.images, key=lambda m: -m.bytes)[:top]],
            {2},
        ))  # fmt: skip
    for title, headers, rows_, right in sections:
        parts.append(f"{heading}{title}\n\n" + _table(rows_, headers, markdown, right))
    notes = list(snap.notes)
    if not snap.prune_rules:  # containerd on a node
        if snap.orphans:
            notes.append(_NODE_ORPHAN_ADVICE)
        notes.append(_NODE_RECLAIMABLE)
        parts.append(f"{heading}Notes\n" + "\n".join(f"- {n}" for n in notes))
        return "\n\n".join(parts)
    if snap.orphans:
        notes.append(_ORPHAN_ADVICE)
    if snap.build_cache_gc is not None and (line := gc_sentence(snap.build_cache_gc)):
        notes.append(f"build cache: {line}")
    for b in snap.builders:
        said = [b.unread_why, gc_sentence(b), volume_note(b), *b.notes]
        notes += [f"builder {b.name}: {line}" for line in said if line]
    for store in snap.inactive_stores:
        notes.append(_inactive_advice(store.store, snap.data_root))
    rule = (
        "every unused local volume" if snap.volume_prune_all else "unused anonymous volumes only (API 1.42+)"
    )
    notes.append(
        f"RECLAIMABLE is what 'docker system prune -a --volumes' would free, in the SIZE measure; volumes: {rule}"
    )
    parts.append(f"{heading}Notes\n" + "\n".join(f"- {n}" for n in notes))
    return "\n\n".join(parts)


DISK_RENDERERS: dict[DiskFormat, Callable[[Sequence[DiskReport], int], str]] = {
    DiskFormat.TABLE: lambda reports, top: render_disk_text(reports, top=top, markdown=False),
    DiskFormat.MARKDOWN: lambda reports, top: render_disk_text(reports, top=top, markdown=True),
    DiskFormat.JSON: lambda reports, top: render_disk_json(reports),
    DiskFormat.CSV: lambda reports, top: render_disk_csv(reports),
}


def render_disk(reports: Sequence[DiskReport], fmt: DiskFormat, *, top: int = 10) -> str:
    """Render one engine's disk, or several engines' with their sums."""
    return DISK_RENDERERS[fmt](reports, top)
