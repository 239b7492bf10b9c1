"""The disk model's items from the engine's answers and the walk: containers, volumes, build cache, orphans."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from layershare.model import BuildCacheDisk, Category, ContainerDisk, Orphan, Usage, VolumeDisk
from layershare.redact import redact_created_by
from layershare.sources.disk.layout import MEASURED, Layout
from layershare.sources.disk.walk import Owner, WalkResult

ANONYMOUS_LABEL = "com.docker.volume.anonymous"


def container_name(container: Mapping[str, Any]) -> str:
    """A container's name as ``docker ps`` shows it (``GET /containers/json`` answers ``/name``)."""
    names = container.get("Names") or []
    return str(names[0]).lstrip("/") if names else str(container["Id"])[:12]


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
    df: Mapping[str, Any],
    answers: Mapping[str, Any],
    walked: WalkResult | None,
    data_root: str,
    *,
    containerd_store: bool,
) -> tuple[ContainerDisk, ...]:
    """Every container; ``size_rw_bytes`` measured by the walk as the engine measures it where the files
    were read (moby's directory size of the writable layer; on the containerd store the snapshot's
    block usage), else the engine's ``SizeRw`` (which it omits when 0)."""
    sized = {str(c["Id"]): c for c in df.get("Containers") or []}
    found = []
    for c in answers["containers"]:
        cid = str(c["Id"])
        measured = walked_usage(walked, ("containers", f"{cid}{MEASURED}"))
        if measured is not None:
            size_rw = measured.disk_bytes if containerd_store else measured.bytes
        else:
            size_rw = int(sized.get(cid, {}).get("SizeRw") or 0)
        found.append(
            ContainerDisk(
                id=cid,
                name=container_name(c),
                image=str(c.get("Image") or ""),
                image_id=str(c.get("ImageID") or ""),
                state=str(c.get("State") or ""),
                size_rw_bytes=size_rw,
                disk=_combined(walked, ("containers", cid), ("containers", f"{cid}{MEASURED}")),
                log=walked_usage(walked, ("logs", cid)),
                log_path=_log_path(data_root, cid) if walked is not None else None,
            )
        )
    return tuple(sorted(found, key=lambda c: (-c.size_rw_bytes, c.name)))


def _combined(walked: WalkResult | None, *owners: Owner) -> Usage | None:
    """One item's usage over the owners its parts were walked under."""
    parts = [walked_usage(walked, owner) for owner in owners]
    if any(part is None for part in parts):
        return None
    return Usage(sum(p.bytes for p in parts if p), sum(p.disk_bytes for p in parts if p))


def volumes_of(
    df: Mapping[str, Any],
    containers: Iterable[Mapping[str, Any]],
    listed: Iterable[Mapping[str, Any]],
    walked: WalkResult | None,
) -> tuple[VolumeDisk, ...]:
    """Every volume, with the containers that mount it; a local volume's ``bytes`` measured by the walk
    as the engine measures it (moby's directory size of its ``_data``) where the files were read."""
    users: dict[str, list[str]] = {}
    for c in containers:
        name = str((c.get("Names") or [c["Id"][:12]])[0]).lstrip("/")
        for mount in c.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name"):
                users.setdefault(str(mount["Name"]), []).append(name)
    engine_sizes = {str(v["Name"]): (v.get("UsageData") or {}).get("Size") for v in df.get("Volumes") or []}
    found = []
    for v in listed:
        name = str(v["Name"])
        measured = (
            walked_usage(walked, ("volumes", f"{name}{MEASURED}")) if v.get("Driver") == "local" else None
        )
        size = measured.bytes if measured is not None else engine_sizes.get(name)
        found.append(
            VolumeDisk(
                name=name,
                driver=str(v.get("Driver") or ""),
                bytes=int(size) if isinstance(size, int) and size >= 0 else None,
                containers=tuple(sorted(users.get(name, []))),
                anonymous=ANONYMOUS_LABEL in (v.get("Labels") or {}),
                disk=_combined(walked, ("volumes", name), ("volumes", f"{name}{MEASURED}")),
            )
        )
    return tuple(sorted(found, key=lambda v: (-(v.bytes or 0), v.name)))


def build_cache_of(df: Mapping[str, Any], *, show_values: bool) -> tuple[BuildCacheDisk, ...]:
    records = [
        BuildCacheDisk(
            id=str(r.get("ID") or ""),
            type=str(r.get("Type") or ""),
            bytes=int(r.get("Size") or 0),
            shared=bool(r.get("Shared")),
            in_use=bool(r.get("InUse")),
            last_used=str(r.get("LastUsedAt") or ""),
            description=_shown(str(r.get("Description") or ""), show_values),
        )
        for r in df.get("BuildCache") or []
    ]
    return tuple(sorted(records, key=lambda r: (-r.bytes, r.id)))


def _shown(description: str, show_values: bool) -> str:
    """A build-cache description names the RUN command it came from: values masked, as in history."""
    return description if show_values else redact_created_by(description)


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


def categories_of(walked: WalkResult) -> dict[Category, Usage]:
    totals: dict[Category, list[int]] = {}
    for (category, _item), tally in walked.owners.items():
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
