"""Prometheus metrics from the recorded corpus: the text format parses, and the values are the engine's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import cli

from layershare.errors import UsageError
from layershare.metrics.samples import report_sample
from layershare.render.prometheus import render_metrics
from layershare.report.analysis import build_report
from layershare.report.index import LayerIndex
from layershare.serve import parse_listen
from layershare.sources.recording import snapshot_from_recording


def parsed(text: str) -> dict[str, list[Any]]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_values_are_the_engines_and_series_are_bounded(recording: dict[str, Any]) -> None:
    report = build_report(LayerIndex.from_snapshot(snapshot_from_recording(recording)))
    truth = recording["ground_truth"]["system_df"]
    families = parsed(render_metrics([report_sample("unix:///x.sock", report, top=5, seconds=0.5)]))
    value = {name: samples[0].value for name, samples in families.items() if len(samples) == 1}
    assert value["layershare_up"] == 1
    assert value["layershare_physical_bytes"] == truth["LayersSize"]
    assert value["layershare_logical_bytes"] == sum(i["Size"] for i in truth["Images"])
    assert value["layershare_listed_bytes"] == sum(
        i["Size"] * max(1, len(i["RepoTags"] or [])) for i in truth["Images"]
    )
    assert value["layershare_images"] == len(truth["Images"])
    by_id = {i["Id"]: i for i in truth["Images"]}
    unique = families["layershare_image_unique_bytes"]
    assert len(unique) == 5
    for sample in unique:
        image = by_id[sample.labels["image_id"]]
        assert sample.labels["engine"] == "unix:///x.sock"
        assert sample.value == image["Size"] - image["SharedSize"]
        assert sample.labels["image"] in (image["RepoTags"] or []) or sample.labels["image"] in image["Id"]
    largest = sorted((i["Size"] - i["SharedSize"] for i in truth["Images"]), reverse=True)[:5]
    assert sorted((s.value for s in unique), reverse=True) == largest
    for sample in families["layershare_image_size_bytes"]:
        assert sample.value == by_id[sample.labels["image_id"]]["Size"]
    for sample in families["layershare_image_shared_bytes"]:
        assert sample.value == by_id[sample.labels["image_id"]]["SharedSize"]


def test_an_unreachable_engine_writes_up_zero_atomically(tmp_path: Path) -> None:
    out = tmp_path / "layershare.prom"
    out.write_text("old\n")
    result = cli("metrics", "-H", f"unix://{tmp_path}/none.sock", "-o", str(out))
    assert result.returncode == 3 and result.stderr.count("\n") == 1
    families = parsed(out.read_text())
    assert [s.value for s in families["layershare_up"]] == [0]
    assert families["layershare_physical_bytes"] == []
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind
    refused = cli("metrics", "--recording", "x.json")
    assert refused.returncode == 2 and "live engine" in refused.stderr


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9473") == ("127.0.0.1", 9473)
    assert parse_listen("[::1]:80") == ("::1", 80)
    assert parse_listen(":9473") == ("0.0.0.0", 9473)
    for bad in ("9473", "host:", "host:99999", "a:b"):
        with pytest.raises(UsageError, match="ADDRESS:PORT"):
            parse_listen(bad)


def test_the_examples_use_only_series_layershare_writes(recording: dict[str, Any]) -> None:
    """The Grafana dashboard and the cron line keep working: every series they name exists."""
    examples = Path(__file__).resolve().parents[2] / "examples" / "monitoring"
    report = build_report(LayerIndex.from_snapshot(snapshot_from_recording(recording)))
    written = set(parsed(render_metrics([report_sample("e", report, top=3, seconds=0.1)])))
    written |= {"layershare_disk_bytes", "layershare_disk_allocated_bytes", "layershare_disk_collect_seconds"}
    dashboard = json.loads((examples / "grafana-dashboard.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    queries.append(dashboard["templating"]["list"][0]["definition"])
    named = {m for q in queries for m in re.findall(r"layershare_[a-z_]+", q)}
    assert named and named <= written, named - written
    cron = (examples / "layershare.cron").read_text()
    line = next(x for x in cron.splitlines() if x and not x.startswith("#"))
    assert "/layershare metrics " in line and " -o " in line
    image = next(x for x in cron.splitlines() if "docker run" in x)  # the same from the image
    assert "layershare:0.1.0 metrics " in image and "-v /var/run/docker.sock:/var/run/docker.sock" in image
    assert "-o /out/layershare.prom" in image and "-v /var/lib/prometheus/node-exporter:/out" in image


def test_a_keepers_saved_counts_are_its_series(recording: dict[str, Any], tmp_path: Path) -> None:
    """What a keeper saved in the cache folder comes out as layershare_keeper_* for its engine; an
    engine without a keeper has none."""
    from dataclasses import replace

    from layershare.cache import KeeperCounters
    from layershare.metrics.samples import with_keeper

    report = build_report(LayerIndex.from_snapshot(snapshot_from_recording(recording)))
    sample = report_sample("unix:///x.sock", report, top=1, seconds=0.5)
    saved = {"checks": 7, "actions": 2, "removed_images": 3, "freed_bytes": 12_345, "predicted_bytes": 12_345,
             "errors": 1, "started_at": 1.7e9, "last_check_at": 1.7e9 + 60, "last_action_at": 1.7e9 + 30}  # fmt: skip
    KeeperCounters(tmp_path, "e").save_times(saved)
    families = parsed(render_metrics([with_keeper(replace(sample, keeper_at=(str(tmp_path), "e")))]))
    for name in ("checks", "actions", "removed_images", "freed_bytes", "predicted_bytes", "errors"):
        (only,) = families[f"layershare_keeper_{name}"]
        assert only.name == f"layershare_keeper_{name}_total" and only.value == saved[name]
        assert only.labels == {"engine": "unix:///x.sock"}
    assert families["layershare_keeper_last_check_timestamp_seconds"][0].value == saved["last_check_at"]
    alone = parsed(render_metrics([with_keeper(replace(sample, keeper_at=(str(tmp_path), "other")))]))
    assert alone["layershare_keeper_actions"] == [] and alone["layershare_up"][0].value == 1
