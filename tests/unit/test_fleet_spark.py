"""``fleet --engine spark``: the same SQL files on Spark SQL (pyspark, Java from Debian's
default-jre-headless) give the answers DuckDB gives, on a small seeded fleet and on the recorded
corpus's exports. Slow (Spark starts a JVM): marked, and run in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import RECORDING, ROOT, layershare  # Spark starts a JVM: a process of its own

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fleet_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("the Spark tests need Java (Debian: apt-get install default-jre-headless)")
    pytest.importorskip("pyspark", reason="pip install 'layershare[spark]'")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from fleet import generate  # the benchmark's seeded fleet generator

    folder = tmp_path_factory.mktemp("fleet")
    truth = generate(folder, hosts=25, images=40, layers=9, pool=120)
    done = layershare("export", "--recording", str(RECORDING), "--to", str(folder), "--host-name", "recorded")
    assert done.returncode == 0, done.stderr
    (folder / "truth.json").write_text(json.dumps(truth))
    return folder


def test_spark_answers_equal_duckdbs(fleet_folder: Path) -> None:
    duck = layershare("fleet", str(fleet_folder), "-f", "json")
    spark = layershare("fleet", "--engine", "spark", "--memory-limit", "1GB", str(fleet_folder), "-f", "json")
    assert duck.returncode == 0, duck.stderr
    assert spark.returncode == 0, spark.stderr
    assert spark.stderr == ""  # Spark's own start-up lines go to its log, not the terminal
    by_duckdb, by_spark = json.loads(duck.stdout), json.loads(spark.stdout)
    assert (by_duckdb.pop("engine"), by_spark.pop("engine")) == ("duckdb", "spark")
    assert by_spark == by_duckdb
    # and both are right: the generator's own totals, the recorded host's report
    truth = json.loads((fleet_folder / "truth.json").read_text())
    report = json.loads(layershare("report", "--recording", str(RECORDING), "-f", "json").stdout)
    assert (
        by_spark["totals"]["physical_bytes"] == truth["physical_bytes"] + report["totals"]["physical_bytes"]
    )
    assert by_spark["totals"]["hosts"] == 26
    assert sorted(d["host"] for d in by_spark["duplication"]) == [f"host-{h:05d}" for h in range(0, 25, 5)]
    table = layershare("fleet", "--engine", "spark", str(fleet_folder))
    assert table.returncode == 0 and table.stdout.startswith("Fleet of 26 host(s) (Spark SQL)")


def test_spark_refuses_what_it_cannot_read(fleet_folder: Path, tmp_path: Path) -> None:
    empty = layershare("fleet", "--engine", "spark", str(tmp_path))
    assert empty.returncode == 7 and "no layershare exports" in empty.stderr
    bad = tmp_path / "bad"
    shutil.copytree(fleet_folder, bad)
    victim = next((bad / "host_layer").glob("*.parquet"))
    victim.write_bytes(victim.read_bytes()[:100])
    truncated = layershare("fleet", "--engine", "spark", str(bad))
    assert truncated.returncode == 7 and "not a readable Parquet file" in truncated.stderr
    assert len(truncated.stderr.strip().splitlines()) == 1
    no_java = subprocess.run(
        [sys.executable, "-m", "layershare", "fleet", "--engine", "spark", str(fleet_folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "JAVA_HOME": str(tmp_path / "no-java")},
    )
    assert no_java.returncode == 2 and "needs Java" in no_java.stderr
    master = layershare("fleet", "--spark-master", "local[1]", str(fleet_folder))
    assert master.returncode == 2 and "--engine spark" in master.stderr
