"""``layershare export`` and ``layershare fleet`` on recorded hosts: totals add up, layers are counted
by the hosts that store them, and bad exports are one line each."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import RECORDING, cli

layershare = cli


def chain(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else "sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


@pytest.fixture
def fleet_folder(tmp_path: Path) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Two hosts: the recorded corpus, and the same without legacy-app:1; their reports beside."""
    recording = json.loads(RECORDING.read_text())
    gone = next(s["Id"] for s in recording["images"] if "legacy-app:1" in (s.get("RepoTags") or []))
    smaller = copy.deepcopy(recording)
    smaller["images"] = [s for s in smaller["images"] if s["Id"] != gone]
    del smaller["inspect"][gone], smaller["history"][gone]
    (tmp_path / "b.json").write_text(json.dumps(smaller))
    folder = tmp_path / "fleet"
    reports = {}
    for host, path in (("host-a", RECORDING), ("host b/1", tmp_path / "b.json")):
        done = layershare("export", "--recording", str(path), "--to", str(folder), "--host-name", host)
        assert done.returncode == 0, done.stderr
        reports[host] = json.loads(layershare("report", "--recording", str(path), "-f", "json").stdout)
        reports[host]["recording"] = json.loads(Path(path).read_text())
    return folder, reports


def test_fleet_totals_are_the_hosts_reports_and_layers_count_their_hosts(
    fleet_folder: tuple[Path, dict[str, dict[str, Any]]],
) -> None:
    folder, reports = fleet_folder
    result = layershare("fleet", str(folder), "-f", "json")
    assert result.returncode == 0, result.stderr
    fleet = json.loads(result.stdout)
    assert fleet["schema"] == "layershare.fleet/v1" and fleet["engine"] == "duckdb"
    totals = fleet["totals"]
    assert totals["hosts"] == 2
    assert totals["physical_bytes"] == sum(r["totals"]["physical_bytes"] for r in reports.values())
    assert totals["logical_bytes"] == sum(r["totals"]["logical_bytes"] for r in reports.values())
    assert {h["host"]: h["physical_bytes"] for h in fleet["hosts"]} == {
        host: r["totals"]["physical_bytes"] for host, r in reports.items()
    }
    # Each layer's host count: the hosts whose listed images use it, from the recorded RootFS.
    stored: dict[str, int] = {}
    for r in reports.values():
        recording = r["recording"]
        listed = {s["Id"] for s in recording["images"]}
        chains = {c for i in listed for c in chain(recording["inspect"][i]["RootFS"]["Layers"])}
        for c in chains:
            stored[c] = stored.get(c, 0) + 1
    assert {la["chain_id"]: la["hosts"] for la in fleet["layers"]} == stored
    assert totals["layers"] == len(stored)
    sizes = {la["chain_id"]: la["size_bytes"] for r in reports.values() for la in r["layers"]}
    for layer in fleet["layers"]:
        assert (
            layer["fleet_bytes"]
            == layer["size_bytes"] * layer["hosts"]
            == sizes[layer["chain_id"]] * layer["hosts"]
        )
    hosts_of = {i["tags"][0] if i["tags"] else i["id"]: i["hosts"] for i in fleet["images"]}
    assert hosts_of["legacy-app:1"] == 1 and hosts_of["app-one:1"] == 2
    unique = {}
    for r in reports.values():
        for image in r["images"]:
            unique[image["id"]] = unique.get(image["id"], 0) + image["unique_bytes"]
    assert {i["id"]: i["freed_if_removed_bytes"] for i in fleet["images"]} == unique


def test_image_chains_are_stored_once_and_tables_are_bounded_by_top(
    fleet_folder: tuple[Path, dict[str, dict[str, Any]]],
) -> None:
    folder, reports = fleet_folder
    ids = {i["id"] for r in reports.values() for i in r["images"]}
    assert sorted(p.stem for p in (folder / "image_layer").glob("*.parquet")) == sorted(
        i.removeprefix("sha256:") for i in ids
    )
    assert len(list((folder / "hosts").glob("*.parquet"))) == 2
    table = layershare("fleet", str(folder), "--top", "3")
    assert table.returncode == 0
    section = table.stdout.split("Layers by fleet-wide bytes")[1].split("\n\n")[0]
    assert len(section.strip().splitlines()) == 1 + 2 + 3  # title, header and rule, three rows
    assert "Fleet of 2 host(s)" in layershare("fleet", str(folder), "-f", "markdown").stdout


def test_bad_exports_are_one_line_each(
    tmp_path: Path, fleet_folder: tuple[Path, dict[str, dict[str, Any]]]
) -> None:
    folder, _ = fleet_folder
    empty = tmp_path / "empty"
    empty.mkdir()
    result = layershare("fleet", str(empty))
    assert (
        result.returncode == 7 and "no layershare exports" in result.stderr and result.stderr.count("\n") == 1
    )
    host_file = next((folder / "hosts").glob("*.parquet"))
    truncated = tmp_path / "truncated"
    (truncated / "hosts").mkdir(parents=True)
    (truncated / "hosts" / "x.parquet").write_bytes(host_file.read_bytes()[:100])
    result = layershare("fleet", str(truncated))
    assert result.returncode == 7 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    other = tmp_path / "other"
    (other / "hosts").mkdir(parents=True)
    table = pq.read_table(host_file).replace_schema_metadata({b"layershare.schema": b"layershare.export/v9"})
    pq.write_table(table, other / "hosts" / "x.parquet")
    result = layershare("fleet", str(other))
    assert (
        result.returncode == 7 and "layershare.export/v9" in result.stderr and result.stderr.count("\n") == 1
    )
    plain = tmp_path / "plain"
    (plain / "hosts").mkdir(parents=True)
    pq.write_table(pa.table({"host": ["x"]}), plain / "hosts" / "x.parquet")
    result = layershare("fleet", str(plain))
    assert result.returncode == 7 and "no layershare schema" in result.stderr
    assert layershare("fleet", str(folder), "--memory-limit", "lots").returncode == 2


def test_bases_and_drift_across_the_fleet(fleet_folder: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    folder, _ = fleet_folder
    fleet = json.loads(layershare("fleet", str(folder), "-f", "json").stdout)
    bases = {b["base"]: b for b in fleet["bases"]}
    # examples/corpus.py: legacy-app:1 is FROM runtime:2 (only on host-a); app-one:1 and app-two:1 FROM runtime:3
    assert (bases["runtime:2"]["images"], bases["runtime:2"]["hosts"]) == (1, 1)
    assert bases["runtime:3"]["hosts"] == 2 and bases["runtime:3"]["images"] >= 2
    drift = {d["repository"]: d for d in fleet["drift"]}
    assert drift["runtime"]["versions"] == ["runtime:2", "runtime:3"] and drift["runtime"]["hosts"] == 2
    assert "Base drift" in layershare("fleet", str(folder)).stdout


def test_an_export_without_the_newer_columns_still_reads(
    tmp_path: Path, fleet_folder: tuple[Path, dict[str, dict[str, Any]]]
) -> None:
    folder, reports = fleet_folder
    for path in (folder / "host_image").glob("*.parquet"):  # as written before host_image had base columns
        table = pq.read_table(path)
        older = table.drop_columns(["base", "base_repository"]).replace_schema_metadata(table.schema.metadata)
        pq.write_table(older, path)
    result = layershare("fleet", str(folder), "-f", "json")
    assert result.returncode == 0, result.stderr
    fleet = json.loads(result.stdout)
    assert fleet["bases"] == [] and fleet["drift"] == []
    assert fleet["totals"]["physical_bytes"] == sum(r["totals"]["physical_bytes"] for r in reports.values())


@pytest.mark.parametrize(
    "manifest",
    sorted((Path(__file__).resolve().parents[2] / "examples" / "fleet").glob("daemonset*.yaml")),
    ids=lambda p: p.name,
)
def test_daemonset_examples_run_an_export_that_parses(manifest: Path) -> None:
    import re
    import shlex

    from layershare.cli import cli as group

    text = manifest.read_text()
    command = " ".join(re.search(r"layershare export (--quiet[^;]*);", text, flags=re.DOTALL)[1].split())  # type: ignore[index]
    context = group.commands["export"].make_context(
        "export", shlex.split(command.replace('"$NODE_NAME"', "n"))
    )
    assert context.params["folder"] == "/fleet" and context.params["host_name"] == "n"
    params = context.params
    if params["containerd_root"]:  # what it reads is mounted read-only from the node's containerd root
        assert params["namespace"] == "all"
        assert f"mountPath: {params['containerd_root']}, readOnly: true" in text
        assert "hostPath: {path: /var/lib/containerd, type: Directory}" in text
    else:
        assert params["hosts"] == ("unix:///var/run/docker.sock",)
