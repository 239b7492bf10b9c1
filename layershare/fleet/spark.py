"""The fleet's questions on Spark SQL: the same SQL files over the same Parquet exports, for fleets
past one machine (``layershare fleet --engine spark``, locally or on a cluster with ``--spark-master``).

Spark is driven through pyspark, with Java from the system (Debian: ``default-jre-headless``). The
exports are read as they are, each table's files into one view of the columns the questions read;
the answers equal DuckDB's (a test holds them to it). Nothing distributed is written here: Spark
plans and runs the queries.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from layershare.errors import SnapshotError, UsageError
from layershare.fleet.export import SCHEMA_KEY, TABLES, table_schema
from layershare.fleet.query import (
    QUERIES,
    Fleet,
    check_version,
    checked_limit,
    export_files,
    fleet_from_answers,
    projection,
    sql,
)

_SPARK_TYPES = {"string": "STRING", "int64": "BIGINT", "list<item: string>": "ARRAY<STRING>"}


def run_fleet_spark(
    paths: Sequence[str | Path],
    *,
    master: str | None = None,
    memory_limit: str = "4GB",
    spill: str | Path | None = None,
) -> Fleet:
    """Answer every question on Spark SQL (``master`` None: Spark in this process, on every core).

    Raises :class:`UsageError` when pyspark or Java is missing, :class:`SnapshotError` for exports
    that cannot be read.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyspark warns about pandas versions it has not tried
            from py4j.protocol import Py4JError
            from pyspark.errors import PySparkException
            from pyspark.sql import SparkSession
    except ImportError as e:
        raise UsageError("--engine spark needs pyspark: pip install 'layershare[spark]'") from e
    java = (
        Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else shutil.which("java")
    )
    if java is None or not os.access(java, os.X_OK):
        raise UsageError(
            f"--engine spark needs Java: {'no ' + str(java) if java else 'no java on PATH'} "
            "(Debian: apt-get install default-jre-headless)"
        )
    files = export_files(paths)
    check_versions(f for table in TABLES for f in files[table])
    with tempfile.TemporaryDirectory(prefix="layershare-spark-") as scratch:
        builder = (
            SparkSession.builder.master(master or "local[*]")
            .appName("layershare fleet")
            .config("spark.driver.memory", _spark_size(checked_limit(memory_limit)))
            .config("spark.local.dir", str(spill or scratch))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
        )
        log = Path(scratch, "spark.log")
        try:
            with warnings.catch_warnings(), _stderr_to(log):
                warnings.simplefilter("ignore")
                session = builder.getOrCreate()
        except (PySparkException, Py4JError, OSError) as e:
            raise UsageError(f"Spark could not start: {_why(log, e)}") from e
        try:
            for table in TABLES:
                if files[table]:
                    frame = session.read.option("mergeSchema", "true").parquet(*files[table])
                    frame.createOrReplaceTempView(f"raw_{table}")
                    columns = projection(table, set(frame.columns))
                    session.sql(f"SELECT {columns} FROM raw_{table}").createOrReplaceTempView(table)
                else:  # hosts with no images at all: an empty table of the right shape
                    session.createDataFrame([], _ddl(table)).createOrReplaceTempView(table)
            answers = {name: [row.asDict(recursive=True) for row in session.sql(sql(name)).collect()]
                       for name in QUERIES}  # fmt: skip
        except (PySparkException, Py4JError) as e:
            raise SnapshotError(f"the exports cannot be read: {_first_line(e)}") from e
        finally:
            session.stop()
    return fleet_from_answers("spark", answers)


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's stderr (file descriptor 2) to a file while Spark's JVM starts: the JVM
    keeps it, so its start-up lines and log go there, not to the terminal."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("wb") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def check_versions(files: Any) -> None:
    """Refuse a Parquet file that is not a ``layershare.export/v1`` export (read from its footer)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in files:
        try:
            metadata = pq.read_schema(path).metadata or {}
        except (OSError, pa.ArrowException) as e:
            raise SnapshotError(f"{path}: not a readable Parquet file ({_first_line(e)})") from e
        version = metadata.get(SCHEMA_KEY)
        check_version(path, version.decode(errors="replace") if version is not None else None)


def _ddl(table: str) -> str:
    return ", ".join(f"{field.name} {_SPARK_TYPES[str(field.type)]}" for field in table_schema(table))


def _spark_size(limit: str) -> str:
    """``4GB`` -> ``4g``: a size as Spark's memory settings read it (whole units, rounded down to MiB)."""
    number, unit = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]+)\s*", limit).groups()  # type: ignore[union-attr]
    scale = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 1024, "mib": 1024**2, "gib": 1024**3,
             "tib": 1024**4}[unit.lower()]  # fmt: skip
    return f"{max(1, int(float(number) * scale) // 1024**2)}m"


def _why(log: Path, error: BaseException) -> str:
    """The line of Spark's log that says why it stopped (its first error), else the exception's."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    said = [line for line in lines if " ERROR " in f" {line} " or "No such file" in line]
    return said[0] if said else _first_line(error)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
