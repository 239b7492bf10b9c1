"""The fleet: every exported host's tables read together by DuckDB, embedded, and the questions asked.

The questions are SQL files in ``layershare/fleet/sql`` (each reads the views ``hosts``,
``host_image``, ``host_layer`` and ``image_layer``), run with a memory limit and a folder to spill
to, so a fleet larger than memory still answers. They are written in the SQL DuckDB and Spark SQL
share, so :mod:`layershare.fleet.spark` runs the same files on Spark.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from layershare.errors import SnapshotError, UsageError
from layershare.fleet.export import EXPORT_SCHEMA, SCHEMA_KEY, TABLES, table_schema

QUERIES = ("totals", "hosts", "layers", "images", "bases", "drift", "duplication")
# What a column an older v1 export lacks reads as (else a null string), in SQL both engines read.
_MISSING = {"duplicate_bytes": "CAST(0 AS BIGINT)", "duplicate_layers": "CAST(0 AS BIGINT)"}
# The columns the questions read (Parquet is read column by column: the rest is never decoded).
COLUMNS = {
    "hosts": "host, images, physical_bytes, logical_bytes, engine_version, image_store, collected_at, "
    "duplicate_bytes, duplicate_layers",
    "host_image": "host, image_id, tags, size_bytes, unique_bytes, base, base_repository",
    "host_layer": "host, chain_id, bytes",
    "image_layer": "chain_id, created_by",
}


@dataclass(frozen=True)
class Fleet:
    """The answers: ``totals`` one row; ``hosts``, ``layers``, ``images`` rows, largest first;
    ``duplication`` the hosts whose containerd namespaces unpack layers twice."""

    engine: str
    totals: dict[str, int]
    hosts: list[dict[str, Any]]
    layers: list[dict[str, Any]]
    images: list[dict[str, Any]]
    bases: list[dict[str, Any]]
    drift: list[dict[str, Any]]
    duplication: list[dict[str, Any]]
    notes: tuple[str, ...] = ()


def sql(name: str) -> str:
    """One of the package's SQL files."""
    return resources.files("layershare.fleet").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def export_files(paths: Sequence[str | Path]) -> dict[str, list[str]]:
    """Each table's Parquet files under the export folders; :class:`SnapshotError` for a folder with none."""
    files: dict[str, list[str]] = {table: [] for table in TABLES}
    for path in paths:
        folder = Path(path)
        found = {table: sorted(str(p) for p in (folder / table).glob("*.parquet")) for table in TABLES}
        if not found["hosts"]:
            raise SnapshotError(
                f"no layershare exports in {folder} (no hosts/*.parquet: see layershare export)"
            )
        for table in TABLES:
            files[table] += found[table]
    return files


def _literal(paths: Sequence[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def run_fleet(
    paths: Sequence[str | Path], *, memory_limit: str = "4GB", spill: str | Path | None = None
) -> Fleet:
    """Read the exports under ``paths`` and answer every question (raises :class:`SnapshotError`)."""
    try:
        import duckdb
    except ImportError as e:
        raise UsageError(
            "fleet needs DuckDB: pip install 'layershare[fleet]' (the container image: its -fleet tag)"
        ) from e
    files = export_files(paths)
    with tempfile.TemporaryDirectory(prefix="layershare-fleet-") as scratch:
        connection = duckdb.connect(":memory:")
        try:
            connection.execute(f"SET memory_limit = '{checked_limit(memory_limit)}'")
            connection.execute(
                f"SET temp_directory = '{str(spill or scratch).replace(chr(39), chr(39) * 2)}'"
            )
            _check_versions(connection, [f for table in TABLES for f in files[table]])
            for table in TABLES:
                if files[table]:
                    raw = f"read_parquet({_literal(files[table])}, union_by_name = true)"
                    source = f"(SELECT {_columns(connection, table, raw)} FROM {raw})"
                else:  # hosts with no images at all: an empty table of the right shape
                    source = _empty(table)
                # hosts and host_image are asked three times each: read them once, into tables.
                kind = "TABLE" if table in ("hosts", "host_image") else "VIEW"
                connection.execute(f"CREATE {kind} {table} AS SELECT * FROM {source}")
            answers = {name: _rows(connection, sql(name)) for name in QUERIES}
        except duckdb.Error as e:
            raise SnapshotError(f"the exports cannot be read: {str(e).splitlines()[0]}") from e
        finally:
            connection.close()
    return fleet_from_answers("duckdb", answers)


def fleet_from_answers(engine: str, answers: dict[str, list[dict[str, Any]]]) -> Fleet:
    """The answers of every question (by its name in :data:`QUERIES`) as a :class:`Fleet`."""
    totals = {k: int(v or 0) for k, v in answers["totals"][0].items()}
    return Fleet(
        engine=engine,
        totals={
            "hosts": totals["hosts"],
            "images": len(answers["images"]),
            "layers": len(answers["layers"]),
            "physical_bytes": totals["physical_bytes"],
            "logical_bytes": totals["logical_bytes"],
        },
        hosts=answers["hosts"],
        layers=answers["layers"],
        images=answers["images"],
        bases=answers["bases"],
        drift=answers["drift"],
        duplication=answers["duplication"],
    )


def projection(table: str, present: set[str]) -> str:
    """The columns the questions read from a table, as SQL; one the exports do not have yet (an older
    v1 export) reads as its default, in SQL DuckDB and Spark both read."""
    wanted = [c.strip() for c in COLUMNS[table].split(",")]
    return ", ".join(
        c if c in present else f"{_MISSING.get(c, 'CAST(NULL AS STRING)')} AS {c}" for c in wanted
    )


def _columns(connection: Any, table: str, raw: str) -> str:
    present = {row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {raw}").fetchall()}
    return projection(table, present)


def checked_limit(text: str) -> str:
    """A memory limit as DuckDB reads it (``4GB``, ``512MiB``); :class:`UsageError` otherwise."""
    import re

    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", text, flags=re.IGNORECASE):
        raise UsageError(f"--memory-limit {text!r}: expected a size such as 4GB or 512MiB")
    return text.strip()


def _check_versions(connection: Any, files: list[str]) -> None:
    rows = connection.execute(
        f"SELECT file_name, decode(value) FROM parquet_kv_metadata({_literal(files)}) WHERE decode(key) = ?",
        [SCHEMA_KEY.decode()],
    ).fetchall()
    versions = {str(name): str(value) for name, value in rows}
    for path in files:
        check_version(path, versions.get(path))


def check_version(path: str, version: str | None) -> None:
    """Refuse a file whose layershare schema (from its Parquet metadata) is not ``layershare.export/v1``."""
    if version != EXPORT_SCHEMA:
        found = f"schema {version!r}" if version else "no layershare schema"
        raise SnapshotError(
            f"{path}: {found}, expected {EXPORT_SCHEMA!r} (export it again with this version)"
        )


_DUCKDB_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "list<item: string>": "VARCHAR[]"}


def _empty(table: str) -> str:
    """An empty table of the shape every export writes (from its one schema)."""
    columns = ", ".join(
        f"CAST(NULL AS {_DUCKDB_TYPES[str(field.type)]}) AS {field.name}" for field in table_schema(table)
    )
    return f"(SELECT {columns} WHERE false)"


def _rows(connection: Any, query: str) -> list[dict[str, Any]]:
    cursor = connection.execute(query)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
