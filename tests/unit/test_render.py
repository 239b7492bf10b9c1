"""Every output format renders; sizes read like docker's; secrets stay masked."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

import pytest

from layershare.redact import redact_created_by
from layershare.render import OutputFormat, render_history, render_report, render_reports
from layershare.report.analysis import build_report, find_image, image_history
from layershare.report.index import LayerIndex
from layershare.sources.recording import snapshot_from_recording
from layershare.units import human_size


def report_of(recording: dict[str, Any]) -> Any:
    """The report of a recording, built once per recording's content (renderers only read it)."""
    key = hashlib.sha256(json.dumps(recording, sort_keys=True).encode()).hexdigest()
    if key not in _REPORTS:
        _REPORTS[key] = build_report(LayerIndex.from_snapshot(snapshot_from_recording(recording)))
    return _REPORTS[key]


_REPORTS: dict[str, Any] = {}


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_renders_report_and_history(recording: dict[str, Any], fmt: OutputFormat) -> None:
    report = report_of(recording)
    text = render_report(report, fmt, top=100)
    assert "app-one:1" in text
    image_id = find_image(report.index, "app-two:1")
    assert image_id is not None
    assert "rm /big" in render_history(image_history(report.index, image_id), "app-two:1", image_id, fmt)


def test_json_contract_holds_every_image_and_layer(recording: dict[str, Any]) -> None:
    report = report_of(recording)
    doc = json.loads(render_report(report, OutputFormat.JSON, top=1))
    assert doc["schema"] == "layershare.report/v1"
    assert set(doc["totals"]) >= {
        "images",
        "tags",
        "layers",
        "listed_bytes",
        "logical_bytes",
        "physical_bytes",
        "saved_bytes",
    }
    assert set(doc["engine"]) >= {"version", "api_version", "image_store"}
    assert len(doc["images"]) == len(recording["ground_truth"]["system_df"]["Images"])
    assert len(doc["layers"]) == len(recording["ground_truth"]["layer_store"])
    by_id = {i["id"]: i for i in doc["images"]}
    for truth in recording["ground_truth"]["system_df"]["Images"]:
        assert by_id[truth["Id"]]["size_bytes"] == truth["Size"]
        assert by_id[truth["Id"]]["shared_bytes"] == truth["SharedSize"]
    assert sum(la["size_bytes"] for la in doc["layers"]) == doc["totals"]["physical_bytes"]
    bases = [la for la in doc["layers"] if la["parent_chain_id"] is None]
    assert bases and all(la["chain_id"] == la["diff_id"] for la in bases)
    assert {la["parent_chain_id"] for la in doc["layers"]} - {None} <= {
        la["chain_id"] for la in doc["layers"]
    }


def test_csv_has_exact_bytes(recording: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(render_report(report_of(recording), OutputFormat.CSV))))
    truth = {i["Id"]: i for i in recording["ground_truth"]["system_df"]["Images"]}
    for row in rows:
        assert int(row["size_bytes"]) == truth[row["id"]]["Size"]


def test_table_top_limits_rows_and_marks_estimates(recording: dict[str, Any]) -> None:
    text = render_report(report_of(recording), OutputFormat.TABLE, top=3)
    assert "(top 3 of" in text
    assert "Physical size" in text


@pytest.mark.parametrize(
    ("size", "docker_shows"),
    # what `docker image ls` printed for these sizes on Engine 20.10
    [
        (2084715, "2.08MB"),
        (1982312, "1.98MB"),
        (102403, "102kB"),
        (0, "0B"),
        (3, "3B"),
        (2_400_000, "2.4MB"),
    ],
)
def test_human_size_reads_like_docker(size: int, docker_shows: str) -> None:
    assert human_size(size) == docker_shows


@pytest.mark.parametrize(
    ("created_by", "secret"),
    [
        ("/bin/sh -c #(nop)  ENV API_TOKEN=s3cr3t-value", "s3cr3t-value"),
        ('ENV A="two words" B=2', "two words"),
        ('/bin/sh -c #(nop)  LABEL team="payments squad"', "payments squad"),
        ("ARG BUILD_SECRET=dont-print-me", "dont-print-me"),
        ("|2 A=one BUILD_SECRET=dont-print-me /bin/sh -c make", "dont-print-me"),
        ("RUN |1 NPM_TOKEN=abc123 /bin/sh -c npm ci # buildkit", "abc123"),
        ("/bin/sh -c #(nop) ENV PATH /opt/secret/bin", "/opt/secret/bin"),
    ],
)
def test_redaction_masks_values_keeps_names(created_by: str, secret: str) -> None:
    masked = redact_created_by(created_by)
    assert secret not in masked
    assert "***" in masked


def test_redaction_keeps_commands() -> None:
    assert redact_created_by("/bin/sh -c echo A=1") == "/bin/sh -c echo A=1"
    assert redact_created_by("|1 A=1 /bin/sh -c echo $A").endswith("/bin/sh -c echo $A")


def test_recorded_corpus_holds_no_secret(recording: dict[str, Any]) -> None:
    text = json.dumps(recording)
    for secret in ("s3cr3t-value", "dont-print-me", "hunter2", "abc123"):
        assert secret not in text
    assert "API_TOKEN=***" in text


def test_several_engines_add_up(recording: dict[str, Any]) -> None:
    from layershare.render import render_reports

    reports = [report_of(recording), report_of(recording)]
    doc = json.loads(render_reports(reports, OutputFormat.JSON))
    assert doc["schema"] == "layershare.reports/v1"
    assert len(doc["engines"]) == 2
    single = reports[0].totals
    assert doc["totals"]["physical_bytes"] == 2 * single.physical_bytes
    assert doc["totals"]["images"] == 2 * single.images
    text = render_reports(reports, OutputFormat.TABLE)
    assert text.startswith("Engines") and "all 2 engines" in text
    csv_rows = render_reports(reports, OutputFormat.CSV).splitlines()
    assert csv_rows[0].startswith("engine,") and len(csv_rows) == 1 + 2 * len(reports[0].images)
    assert render_reports(reports[:1], OutputFormat.JSON) == render_report(reports[0], OutputFormat.JSON)


def test_each_format_has_one_renderer_and_the_cli_offers_exactly_those() -> None:
    from layershare.cli.main import check, history, report
    from layershare.formats import CheckFormat, SortKey
    from layershare.render import RENDERERS
    from layershare.render.check import CHECK_RENDERERS

    assert set(RENDERERS) == set(OutputFormat) and set(CHECK_RENDERERS) == set(CheckFormat)

    def choices(command: Any, name: str) -> list[str]:
        option = next(p for p in command.params if p.name == name)
        return list(option.type.choices)

    assert choices(report, "fmt") == choices(history, "fmt") == [f.value for f in OutputFormat]
    assert choices(check, "fmt") == [f.value for f in CheckFormat]
    assert choices(report, "sort") == [k.value for k in SortKey]


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_renders_several_engines(recording: dict[str, Any], fmt: OutputFormat) -> None:
    reports = [report_of(recording), report_of(recording)]
    text = render_reports(reports, fmt)
    assert text.endswith("\n") and len(text) > len(render_report(reports[0], fmt))


def test_content_size_where_the_engine_lists_manifests(recording: dict[str, Any]) -> None:
    """CONTENT SIZE (CLI 29, the containerd store): the Size.Content of the image's available manifests
    (a platform not pulled, or an attestation not here, adds nothing); every format carries it with a
    legend, and an engine that lists no manifests leaves it null and the column out."""
    from layershare.sources.answers import trim_summary

    plain = report_of(recording)
    assert "CONTENT" not in render_report(plain, OutputFormat.TABLE, top=100)
    assert all(
        i["content_bytes"] is None
        for i in json.loads(render_report(plain, OutputFormat.JSON, top=1))["images"]
    )
    listed = json.loads(json.dumps(recording))
    expected = {}
    for n, summary in enumerate(listed["images"]):
        here = {"Kind": "image", "Available": True, "Size": {"Content": 1000 + n, "Total": 5000}}
        gone = {"Kind": "image", "Available": False, "Size": {"Content": 777, "Total": 777}}
        secret = {"Descriptor": {"annotations": {"token": "s3cret"}}, "ImageData": {"Containers": ["x"]}}
        summary["Manifests"] = [{**here, **secret}, gone]
        expected[summary["Id"]] = 1000 + n
        assert "s3cret" not in json.dumps(trim_summary(summary))
    report = report_of(listed)
    doc = json.loads(render_report(report, OutputFormat.JSON, top=1))
    assert {i["id"]: i["content_bytes"] for i in doc["images"]} == {
        i: v for i, v in expected.items() if i in {d["id"] for d in doc["images"]}
    }
    rows = csv.DictReader(io.StringIO(render_report(report, OutputFormat.CSV, top=1)))
    assert {r["id"]: int(r["content_bytes"]) for r in rows} == {
        i["id"]: i["content_bytes"] for i in doc["images"]
    }
    for fmt in (OutputFormat.TABLE, OutputFormat.MARKDOWN):
        text = render_report(report, fmt, top=100)
        assert "CONTENT" in text and "CONTENT SIZE (the blobs of the image's manifests" in text
        assert human_size(expected[doc["images"][0]["id"]]) in text
