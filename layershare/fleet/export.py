"""One host's snapshot as Parquet tables that thousands of hosts can drop into one folder or bucket.

Four tables, each a folder of Parquet files (schema ``layershare.export/v1`` in every file's metadata):

``hosts/<host>.parquet``        one row: the host, its engine, its totals (physical, logical, listed bytes,
                                and what containerd keeps twice for layers unpacked in several namespaces,
                                with how many layers that is);
``host_image/<host>.parquet``   a row per image the host lists: namespace, ID, tags, containers, size,
                                shared and unique bytes (as ``layershare report`` counts them there),
                                its base image and the base's repository (as ``check`` finds them);
``host_layer/<host>.parquet``   a row per stored layer: chain ID, bytes (one copy), disk bytes (on
                                the containerd store: its blob and every namespace's snapshot, as du
                                counts them; null where a layer is not weighed on disk), how many of
                                the host's images use it and in how many namespaces it is unpacked;
``image_layer/<image>.parquet`` an image's layer chain, base first: content-addressed by image ID, so a
                                fleet stores each image's chain once however many hosts hold it.

Every file is written under a temporary name and renamed, so a reader never sees half a file; an
``image_layer`` file already there is left as it is (its content is fixed by the image ID).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from layershare.errors import UsageError
from layershare.ids import split_namespace
from layershare.report.analysis import SUMMED_TOTALS, Report
from layershare.report.bases import find_bases

EXPORT_SCHEMA = "layershare.export/v1"
SCHEMA_KEY = b"layershare.schema"
TABLES = ("hosts", "host_image", "host_layer", "image_layer")
# A report's totals that the hosts table keeps.
HOST_TOTALS = SUMMED_TOTALS


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the host's files, and how many image chains were new in the folder."""

    host: str
    files: tuple[Path, ...]
    images_written: int
    images_present: int


def file_name(host: str) -> str:
    """A host name as a file name: kept when it is plain, else made plain and told apart by a hash."""
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", host).strip("._") or "host"
    if plain == host:
        return host
    return f"{plain[:80]}-{hashlib.sha256(host.encode()).hexdigest()[:8]}"


def _namespace(report: Report) -> str:
    """The namespace of a host's images where their IDs do not say it (one namespace read)."""
    engine = report.index.engine
    if engine.namespaces:
        return engine.namespaces[0]
    return "moby" if engine.image_store in ("graphdriver", "containerd") else engine.image_store


def _host_layers(report: Report, host: str) -> list[dict[str, Any]]:
    """A row per stored layer by its chain ID: the copies several containerd namespaces keep are one
    row, their snapshots and the one content blob weighed together in ``disk_bytes``."""
    layers = report.layers
    frame = pd.DataFrame(
        {
            "chain_id": [split_namespace(str(key))[1] for key in layers.index],
            "size": layers["size_bytes"].to_numpy(),
            "blob": layers["blob_bytes"].to_numpy(),
            "images": layers["images"].to_numpy(),
        }
    )
    rows = frame.groupby("chain_id", sort=False).agg(
        bytes=("size", "max"),
        snapshots=("size", "sum"),
        blob=("blob", "first"),  # the containerd store: stored once, each snapshot once per namespace
        images=("images", "sum"),
        copies=("size", "size"),
    )
    disk = (rows["blob"] + rows["snapshots"]).astype("Int64")  # null where no blob: not weighed on disk
    return [
        {"host": host, "chain_id": str(chain_id), "bytes": int(size), "disk_bytes": None if pd.isna(d) else int(d),
         "images": int(users), "copies": int(copies)}
        for chain_id, size, d, users, copies in zip(
            rows.index, rows["bytes"], disk, rows["images"], rows["copies"], strict=True
        )
    ]  # fmt: skip


def export_rows(report: Report, host: str) -> dict[str, list[dict[str, Any]]]:
    """The four tables' rows for one host (``image_layer`` keyed by image inside each row)."""
    engine = report.index.engine
    totals = report.totals
    images = report.images.loc[~report.images["intermediate"].to_numpy(dtype=bool)]
    default_namespace = _namespace(report)
    bases = find_bases(report.index)
    base_of = {str(k): v for k, v in bases["base_reference"].items() if isinstance(v, str)}
    repository_of = {str(k): v for k, v in bases["base_repository"].items() if isinstance(v, str)}
    chains = report.index.chains
    layer_rows_by_chain = _host_layers(report, host)
    layer_rows: dict[str, dict[str, Any]] = {
        str(k): {str(c): v for c, v in row.items()} for k, row in report.index.layers.to_dict("index").items()
    }
    return {
        "hosts": [
            {
                "host": host,
                "collected_at": report.index.collected_at,
                "engine_host": engine.host,
                "engine_version": engine.version,
                "image_store": engine.image_store,
                **{key: getattr(totals, key) for key in HOST_TOTALS},
                "duplicate_layers": sum(1 for row in layer_rows_by_chain if row["copies"] > 1),
            }
        ],
        "host_image": [
            {
                "host": host,
                "namespace": split_namespace(str(image_id))[0] or default_namespace,
                "image_id": split_namespace(str(image_id))[1],
                "tags": [str(t) for t in row["tags"]],
                "containers": int(row["containers"]),
                "size_bytes": int(row["size_bytes"]),
                "shared_bytes": int(row["shared_bytes"]),
                "unique_bytes": int(row["unique_bytes"]),
                "base": base_of.get(str(image_id)),
                "base_repository": repository_of.get(str(image_id)),
            }
            for image_id, row in images.iterrows()
        ],
        "host_layer": layer_rows_by_chain,
        "image_layer": [
            {
                "image_id": split_namespace(str(image_id))[1],
                "position": position,
                "chain_id": split_namespace(chain_id)[1],
                "diff_id": str(layer_rows[chain_id]["diff_id"]),
                "size_bytes": int(layer_rows[chain_id]["size_bytes"]),
                "created_by": str(layer_rows[chain_id]["created_by"]),
            }
            # An image several namespaces hold has one chain: written once, from its first namespace.
            for image_id in {split_namespace(str(i))[1]: i for i in reversed(images.index)}.values()
            for position, chain_id in enumerate(chains.get(image_id, ()))
        ],
    }


def write_export(report: Report, folder: str | Path, host: str) -> ExportResult:
    """Write one host's tables under ``folder`` (created if needed); :class:`UsageError` if it cannot be."""
    try:
        import pyarrow as pa
    except ImportError as e:
        raise UsageError(
            "export needs pyarrow: pip install 'layershare[fleet]' (the container image: its -fleet tag)"
        ) from e
    root = Path(folder)
    rows = export_rows(report, host)
    name = file_name(host)
    metadata = {SCHEMA_KEY: EXPORT_SCHEMA.encode()}
    written: list[Path] = []
    try:
        for table in ("hosts", "host_image", "host_layer"):
            path = root / table / f"{name}.parquet"
            _write(pa.Table.from_pylist(rows[table], schema=_schema(pa, table)), path, metadata)
            written.append(path)
        by_image: dict[str, list[dict[str, Any]]] = {}
        for row in rows["image_layer"]:
            by_image.setdefault(row["image_id"], []).append(row)
        new = 0
        for image_id, chain in by_image.items():
            path = root / "image_layer" / f"{image_id.removeprefix('sha256:')}.parquet"
            if path.exists():
                continue
            _write(pa.Table.from_pylist(chain, schema=_schema(pa, "image_layer")), path, metadata)
            written.append(path)
            new += 1
    except OSError as e:
        raise UsageError(f"cannot write the export under {root}: {e.strerror or e}") from e
    return ExportResult(host, tuple(written), new, len(by_image) - new)


def table_schema(table: str) -> Any:
    """One table's pyarrow schema, as every export writes it."""
    import pyarrow as pa

    return _schema(pa, table)


def _schema(pa: Any, table: str) -> Any:
    text, big, listing = pa.string(), pa.int64(), pa.list_(pa.string())
    fields = {
        "hosts": [("host", text), ("collected_at", text), ("engine_host", text), ("engine_version", text),
                  ("image_store", text), ("images", big), ("tags", big), ("layers", big), ("listed_bytes", big),
                  ("logical_bytes", big), ("physical_bytes", big), ("blob_bytes", big), ("other_bytes", big),
                  ("duplicate_bytes", big), ("duplicate_layers", big)],
        "host_image": [("host", text), ("namespace", text), ("image_id", text), ("tags", listing),
                       ("containers", big), ("size_bytes", big), ("shared_bytes", big), ("unique_bytes", big),
                       ("base", text), ("base_repository", text)],
        "host_layer": [("host", text), ("chain_id", text), ("bytes", big), ("disk_bytes", big), ("images", big),
                       ("copies", big)],
        "image_layer": [("image_id", text), ("position", big), ("chain_id", text), ("diff_id", text),
                        ("size_bytes", big), ("created_by", text)],
    }[table]  # fmt: skip
    return pa.schema(fields)


def _write(table: Any, path: Path, metadata: dict[bytes, bytes]) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table.replace_schema_metadata(metadata), temporary, compression="zstd")
    os.replace(temporary, path)
