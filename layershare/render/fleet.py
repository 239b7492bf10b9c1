"""``layershare fleet`` for people (table, Markdown) and as ``layershare.fleet/v1`` JSON.

``FLEET_RENDERERS`` maps every :class:`~layershare.formats.FleetFormat` to one renderer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from layershare.fleet.query import Fleet
from layershare.formats import FleetFormat
from layershare.ids import short_id
from layershare.render.naming import shorten
from layershare.render.safe import tabulate
from layershare.units import human_size

FLEET_SCHEMA = "layershare.fleet/v1"
_ENGINE_NAMES = {"duckdb": "DuckDB", "spark": "Spark SQL"}


def fleet_document(fleet: Fleet) -> dict[str, Any]:
    """The ``layershare.fleet/v1`` document: every row, whatever ``--top`` says."""
    return {
        "schema": FLEET_SCHEMA,
        "engine": fleet.engine,
        "totals": fleet.totals,
        "hosts": [
            {
                "host": h["host"],
                "images": int(h["images"]),
                "physical_bytes": int(h["physical_bytes"]),
                "logical_bytes": int(h["logical_bytes"]),
                "engine_version": h["engine_version"],
                "image_store": h["image_store"],
                "collected_at": h["collected_at"],
                "duplicate_bytes": int(h["duplicate_bytes"] or 0),
            }
            for h in fleet.hosts
        ],
        "layers": [
            {
                "chain_id": la["chain_id"],
                "hosts": int(la["hosts"]),
                "size_bytes": int(la["size_bytes"]),
                "fleet_bytes": int(la["fleet_bytes"]),
                "created_by": la["created_by"],
            }
            for la in fleet.layers
        ],
        "images": [
            {
                "id": i["id"],
                "tags": list(i["tags"] or []),
                "hosts": int(i["hosts"]),
                "size_bytes": int(i["size_bytes"]),
                "freed_if_removed_bytes": int(i["freed_if_removed_bytes"]),
            }
            for i in fleet.images
        ],
        "bases": [
            {
                "base": b["base"],
                "repository": b["repository"],
                "images": int(b["images"]),
                "hosts": int(b["hosts"]),
            }
            for b in fleet.bases
        ],
        "drift": [
            {
                "repository": d["repository"],
                "versions": list(d["versions"] or []),
                "hosts": int(d["hosts"]),
                "images": int(d["images"]),
            }
            for d in fleet.drift
        ],
        "duplication": [
            {
                "host": d["host"],
                "duplicate_bytes": int(d["duplicate_bytes"]),
                "layers": int(d["layers"]),
                "physical_bytes": int(d["physical_bytes"]),
            }
            for d in fleet.duplication
        ],
        "notes": list(fleet.notes),
    }


def _text(fleet: Fleet, fmt: str, top: int | None) -> str:
    heading = "## " if fmt == "github" else ""
    t = fleet.totals
    rows = [
        ["Hosts", str(t["hosts"])],
        ["Distinct images", str(t["images"])],
        ["Distinct layers", str(t["layers"])],
        ["Physical size (each host's layers once, summed)", human_size(t["physical_bytes"])],
        ["Logical size (each host's images once, summed)", human_size(t["logical_bytes"])],
    ]
    parts = [
        f"{heading}Fleet of {t['hosts']} host(s) ({_ENGINE_NAMES.get(fleet.engine, fleet.engine)})",
        tabulate(rows, tablefmt=fmt, disable_numparse=True),
    ]

    def head(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return items if top is None else items[:top]

    host_rows = [[shorten(h["host"], 40), str(h["images"]), human_size(h["physical_bytes"]),
                  human_size(h["logical_bytes"])] for h in head(fleet.hosts)]  # fmt: skip
    parts.append(
        f"{heading}Hosts\n"
        + tabulate(
            host_rows, headers=["HOST", "IMAGES", "PHYSICAL", "LOGICAL"], tablefmt=fmt, disable_numparse=True
        )
    )
    layer_rows = [[short_id(la["chain_id"]), str(la["hosts"]), human_size(la["size_bytes"]),
                   human_size(la["fleet_bytes"]), shorten(la["created_by"] or "-", 50)]
                  for la in head(fleet.layers)]  # fmt: skip
    parts.append(
        f"{heading}Layers by fleet-wide bytes (size x hosts)\n"
        + tabulate(layer_rows, headers=["CHAIN ID", "HOSTS", "SIZE", "FLEET BYTES", "CREATED BY"], tablefmt=fmt,
                   disable_numparse=True)
    )  # fmt: skip
    image_rows = [[shorten(", ".join(i["tags"] or []) or "<none>", 40), short_id(i["id"]), str(i["hosts"]),
                   human_size(i["size_bytes"]), human_size(i["freed_if_removed_bytes"])]
                  for i in head(fleet.images)]  # fmt: skip
    parts.append(
        f"{heading}Images on most hosts\n"
        + tabulate(image_rows, headers=["IMAGE", "ID", "HOSTS", "SIZE", "REMOVING IT EVERYWHERE FREES"],
                   tablefmt=fmt, disable_numparse=True)
    )  # fmt: skip
    base_rows = [[shorten(b["base"], 40), str(b["images"]), str(b["hosts"])] for b in head(fleet.bases)]
    parts.append(
        f"{heading}Bases\n"
        + tabulate(base_rows, headers=["BASE", "IMAGES", "HOSTS"], tablefmt=fmt, disable_numparse=True)
    )
    if fleet.drift:
        drift_rows = [[d["repository"], ", ".join(d["versions"]), str(d["hosts"]), str(d["images"])]
                      for d in head(fleet.drift)]  # fmt: skip
        parts.append(
            f"{heading}Base drift: repositories used as bases in several versions\n"
            + tabulate(drift_rows, headers=["REPOSITORY", "VERSIONS", "HOSTS", "IMAGES"], tablefmt=fmt,
                       disable_numparse=True)
        )  # fmt: skip
    if fleet.duplication:
        duplication_rows = [[shorten(d["host"], 40), human_size(d["duplicate_bytes"]), str(d["layers"]),
                             human_size(d["physical_bytes"])] for d in head(fleet.duplication)]  # fmt: skip
        parts.append(
            f"{heading}Hosts whose containerd namespaces unpack layers twice\n"
            + tabulate(duplication_rows, headers=["HOST", "SECOND COPIES", "LAYERS", "PHYSICAL"], tablefmt=fmt,
                       disable_numparse=True)
        )  # fmt: skip
    return "\n\n".join(parts) + "\n"


FLEET_RENDERERS: dict[FleetFormat, Callable[[Fleet, int | None], str]] = {
    FleetFormat.TABLE: lambda f, top: _text(f, "simple", top),
    FleetFormat.MARKDOWN: lambda f, top: _text(f, "github", top),
    FleetFormat.JSON: lambda f, top: (
        json.dumps(fleet_document(f), default=str) + "\n"
    ),  # one line: fast at any size
}


def render_fleet(fleet: Fleet, fmt: FleetFormat, *, top: int | None = 20) -> str:
    """The fleet in one format; ``top`` bounds table rows (JSON holds every row)."""
    return FLEET_RENDERERS[fmt](fleet, top)
