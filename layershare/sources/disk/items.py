"""The disk model's items sized by the walk: containers, volumes, orphans, and each category's total."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from layershare.model import Category, Container, Orphan, Usage, Volume
from layershare.sources.disk.layout import MEASURED, Layout
from layershare.sources.disk.walk import Owner, WalkResult


def walked_usage(walked: WalkResult | None, owner: Owner) -> Usage | None:
    """What the walk found for one owner; None when nothing was walked (the data root not readable)."""
    if walked is None:
        return None
    tally = walked.owners.get(owner)
    return Usage(tally.bytes, tally.disk_bytes) if tally else Usage()


def _log_path(data_root: str, cid: str) -> str | None:
    """The container's log file as found on disk (json-file, else the local driver's), if any."""
    folder = Path(data_root, "containers", cid)
    for path in (folder / f"{cid}-json.log", folder / "local-logs" / "container.log"):
        if path.exists():
            return str(path)
    return None


def containers_of(
    containers: Iterable[Container], walked: WalkResult | None, data_root: str, *, containerd_store: bool
) -> tuple[Container, ...]:
    """Every container sized on disk, largest first. Where the files were read, ``size_rw_bytes`` is
    measured by the walk as the engine measures it (moby's directory size of the writable layer; on
    the containerd store the snapshot's block usage), else it stays the engine's ``SizeRw``."""
    found = []
    for c in containers:
        measured = walked_usage(walked, ("containers", f"{c.id}{MEASURED}"))
        size_rw = c.size_rw_bytes
        if measured is not None:
            size_rw = measured.disk_bytes if containerd_store else measured.bytes
        found.append(
            replace(
                c,
                size_rw_bytes=size_rw,
                disk=_combined(walked, ("containers", c.id), ("containers", f"{c.id}{MEASURED}")),
                log=walked_usage(walked, ("logs", c.id)),
                log_path=_log_path(data_root, c.id) if walked is not None else None,
            )
        )
    return tuple(sorted(found, key=lambda c: (-c.size_rw_bytes, c.name)))


def _combined(walked: WalkResult | None, *owners: Owner) -> Usage | None:
    """One item's usage over the owners its parts were walked under."""
    parts = [walked_usage(walked, owner) for owner in owners]
    if any(part is None for part in parts):
        return None
    return Usage(sum(p.bytes for p in parts if p), sum(p.disk_bytes for p in parts if p))


def volumes_of(volumes: Iterable[Volume], walked: WalkResult | None) -> tuple[Volume, ...]:
    """Every volume sized on disk, largest first; a local volume's ``bytes`` measured by the walk as
    the engine measures it (moby's directory size of its ``_data``) where the files were read."""
    found = []
    for v in volumes:
        measured = walked_usage(walked, ("volumes", f"{v.name}{MEASURED}")) if v.driver == "local" else None
        found.append(
            replace(
                v,
                bytes=measured.bytes if measured is not None else v.bytes,
                disk=_combined(walked, ("volumes", v.name), ("volumes", f"{v.name}{MEASURED}")),
            )
        )
    return tuple(sorted(found, key=lambda v: (-(v.bytes or 0), v.name)))


def orphans_of(layout: Layout | None, walked: WalkResult | None) -> tuple[Orphan, ...]:
    if layout is None or walked is None:
        return ()
    found = [
        Orphan(
            root=o.root,
            path=o.path,
            kind=o.kind,
            why=o.why,
            usage=walked_usage(walked, ("orphans", key)) or Usage(),
        )
        for key, o in layout.orphans.items()
    ]
    return tuple(sorted(found, key=lambda o: (-o.usage.disk_bytes, o.path)))


def categories_of(walked: WalkResult, builder_volumes: Iterable[str] = ()) -> dict[Category, Usage]:
    """Each category's total as walked; the volumes of ``builder_volumes`` (buildx builders' state)
    count as builders."""
    builders = {owner for name in builder_volumes for owner in (name, f"{name}{MEASURED}")}
    totals: dict[Category, list[int]] = {}
    for (category, item), tally in walked.owners.items():
        if category == "volumes" and item in builders:
            category = "builders"
        bucket = totals.setdefault(category, [0, 0])
        bucket[0] += tally.bytes
        bucket[1] += tally.disk_bytes
    return {category: Usage(b, d) for category, (b, d) in totals.items()}


def walk_notes(walked: WalkResult | None, layout: Layout | None) -> list[str]:
    notes = list(layout.notes) if layout else []
    if walked is not None and walked.vanished:
        notes.append(
            f"{walked.vanished} file(s) vanished while the data root was walked (a running container?)"
        )
    if walked is not None and walked.unreadable:
        notes.append(f"{len(walked.unreadable)} folder(s) could not be read, e.g. {walked.unreadable[0]}")
    return notes
