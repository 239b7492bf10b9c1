"""The engine's answers about containers, volumes and build cache, read once into the model.

``GET /containers/json?all=1``, ``GET /volumes`` and the ``Containers``, ``Volumes`` and
``BuildCache`` of ``GET /system/df`` become :class:`~layershare.model.Container`,
:class:`~layershare.model.Volume` and :class:`~layershare.model.BuildRecord`, which ``disk`` sizes
on disk and ``free`` plans removals on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from layershare.model import BuildRecord, Container, Volume
from layershare.redact import redact_created_by

ANONYMOUS_LABEL = "com.docker.volume.anonymous"


def container_name(container: Mapping[str, Any]) -> str:
    """A container's name as ``docker ps`` shows it (``GET /containers/json`` answers ``/name``)."""
    names = container.get("Names") or []
    return str(names[0]).lstrip("/") if names else str(container["Id"])[:12]


def containers_from(listed: Iterable[Mapping[str, Any]], df: Mapping[str, Any]) -> tuple[Container, ...]:
    """Every container the engine lists, in its order, with its ``SizeRw`` where ``df`` has it."""
    sizes = {str(c["Id"]): int(c.get("SizeRw") or 0) for c in df.get("Containers") or []}
    return tuple(
        Container(
            id=str(c["Id"]),
            name=container_name(c),
            image=str(c.get("Image") or ""),
            image_id=str(c.get("ImageID") or ""),
            state=str(c.get("State") or ""),
            created=float(c.get("Created") or 0),
            size_rw_bytes=sizes.get(str(c["Id"]), 0),
            volumes=tuple(str(m.get("Name")) for m in c.get("Mounts") or [] if m.get("Type") == "volume"),
            labels=dict(c.get("Labels") or {}),
        )
        for c in listed
    )


def volumes_from(
    listed: Iterable[Mapping[str, Any]], containers: Iterable[Container], df: Mapping[str, Any]
) -> tuple[Volume, ...]:
    """Every volume the engine lists, in its order, with the containers that mount it and its
    ``UsageData.Size`` where ``df`` has one (None where the engine does not say)."""
    users: dict[str, list[str]] = {}
    for c in containers:
        for name in c.volumes:
            users.setdefault(name, []).append(c.name)
    sizes = {str(v["Name"]): (v.get("UsageData") or {}).get("Size") for v in df.get("Volumes") or []}
    found = []
    for v in listed:
        name = str(v["Name"])
        size = sizes.get(name)
        labels = dict(v.get("Labels") or {})
        found.append(
            Volume(
                name=name,
                driver=str(v.get("Driver") or ""),
                bytes=int(size) if isinstance(size, int) and size >= 0 else None,
                containers=tuple(sorted(users.get(name, []))),
                anonymous=ANONYMOUS_LABEL in labels,
                labels=labels,
            )
        )
    return tuple(found)


def build_records_from(df: Mapping[str, Any], *, show_values: bool) -> tuple[BuildRecord, ...]:
    """Every build-cache record ``df`` lists; a description names the RUN command it came from, its
    values masked as in history unless ``show_values``."""
    return tuple(
        BuildRecord(
            id=str(r.get("ID") or ""),
            type=str(r.get("Type") or ""),
            bytes=int(r.get("Size") or 0),
            shared=bool(r.get("Shared")),
            in_use=bool(r.get("InUse")),
            last_used=str(r.get("LastUsedAt") or ""),
            description=_shown(str(r.get("Description") or ""), show_values),
            created=str(r.get("CreatedAt") or ""),
            parents=tuple(str(p) for p in (r.get("Parents") or ([r["Parent"]] if r.get("Parent") else []))),
            usage_count=int(r.get("UsageCount") or 0),
        )
        for r in df.get("BuildCache") or []
    )


def _shown(description: str, show_values: bool) -> str:
    return description if show_values else redact_created_by(description)
