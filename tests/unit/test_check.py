"""``layershare check`` on a recorded corpus: every format renders, exit codes, config errors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from support import RECORDING, Ran, cli

from layershare.cli import ExitCode
from layershare.policy.config import load_policy
from layershare.policy.gate import run_check, select_for_check
from layershare.render.check import CHECK_SCHEMA, CheckFormat, render_check
from layershare.report.index import LayerIndex
from layershare.sources.recording import snapshot_from_recording


def check(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Ran:
    return cli("check", "--recording", str(RECORDING), *args, cwd=cwd, env=env)


def report_for(recording: dict[str, Any], *rules: str) -> Any:
    index = LayerIndex.from_snapshot(snapshot_from_recording(recording))
    policy = load_policy(cwd=Path("/"), rules=rules)
    return run_check(index, policy, select_for_check(index, ["fat-app:1", "app-one:1", "distro-a:1"]))


@pytest.mark.parametrize("fmt", list(CheckFormat))
def test_every_format_renders(recording: dict[str, Any], fmt: CheckFormat) -> None:
    report = report_for(recording, "max-base-size=2.5MB")
    text = render_check(report, fmt)
    assert "fat-app:1" in text
    if fmt is CheckFormat.JSON:
        assert json.loads(text)["schema"] == CHECK_SCHEMA
    if fmt is CheckFormat.JUNIT:
        root = ElementTree.fromstring(text)
        failures = root.findall(".//failure")
        assert [f.get("type") for f in failures] == ["max-base-size"]
    if fmt is CheckFormat.GITHUB:
        assert text.splitlines()[0].startswith(
            "::error title=layershare max-base-size%3A fat-app%3A1::fat-app:1: base="
        )


def test_json_contract(recording: dict[str, Any]) -> None:
    doc = json.loads(render_check(report_for(recording, "max-base-size=2.5MB"), CheckFormat.JSON))
    assert doc["passed"] is False
    failed = [r for r in doc["results"] if r["status"] == "fail"]
    assert [(r["image"], r["rule"]) for r in failed] == [("fat-app:1", "max-base-size")]
    fat_base = next(
        i["Size"] for i in recording["ground_truth"]["system_df"]["Images"] if i["RepoTags"] == ["fat-base:1"]
    )
    assert failed[0]["value"] == fat_base
    assert failed[0]["threshold"] == 2_500_000
    assert failed[0]["message"].startswith("base=4.98MB > max-base-size=2.5MB")
    for result in doc["results"]:
        assert set(result) == {"image", "image_id", "rule", "status", "value", "threshold", "message"}
    images = {i["image"]: i for i in doc["images"]}
    assert images["fat-app:1"]["base"]["reference"] == "fat-base:1"
    assert images["distro-a:1"]["base"]["reference"] is None
    assert images["distro-a:1"]["waste"] is None
    assert "recording" in images["distro-a:1"]["waste_reason"]


def test_exit_codes_pass_fail_and_config_error(tmp_path: Path) -> None:
    passed = check("app-one:1", "--rule", "max-image-size=1GB", "-f", "json", cwd=tmp_path)
    assert passed.returncode == ExitCode.OK, passed.stderr
    assert json.loads(passed.stdout)["passed"] is True
    failed = check("--rule", "max-image-size=1MB", cwd=tmp_path)
    assert failed.returncode == ExitCode.CHECK_FAILED
    assert "size=4.99MB > max-image-size=1MB" in failed.stdout
    (tmp_path / ".layershare.toml").write_text('[check]\nmax-image-size = "big"\nmax-layerz = 3\n')
    bad = check(cwd=tmp_path)
    assert bad.returncode == ExitCode.USAGE
    assert bad.stdout == ""
    lines = bad.stderr.splitlines()
    assert lines == [
        f"layershare: error: {tmp_path / '.layershare.toml'}: max-image-size: 'big' is not a size "
        "(examples: 500MB, 1.5GiB, 20000000)",
        f"layershare: error: {tmp_path / '.layershare.toml'}: max-layerz: unknown key (did you mean 'max-layers'?)",
    ]


def test_warnings_do_not_fail_and_unknown_images_are_code_6(tmp_path: Path) -> None:
    warned = check("fat-app:1", "--warn", "max-image-size=1MB", "-f", "json", cwd=tmp_path)
    assert warned.returncode == ExitCode.OK
    statuses = {r["rule"]: r["status"] for r in json.loads(warned.stdout)["results"]}
    assert statuses["max-image-size"] == "warn"
    missing = check("no-such:1", cwd=tmp_path)
    assert missing.returncode == ExitCode.IMAGE_NOT_FOUND
    assert missing.stderr.strip().startswith("layershare: error: no image 'no-such:1'")


def test_github_format_writes_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = dict(os.environ, GITHUB_STEP_SUMMARY=str(summary))
    result = check("fat-app:1", "--rule", "max-base-share=50%", "-f", "github", cwd=tmp_path, env=env)
    assert result.returncode == ExitCode.CHECK_FAILED
    assert result.stdout.startswith("::error title=layershare max-base-share")
    assert summary.read_text().startswith("## layershare check FAILED")


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_commented_policy_example_loads_as_documented() -> None:
    from layershare.policy.rules import AllowedBasesRule, GlobLevels, Levels, ThresholdRule

    policy = load_policy(EXAMPLES / "layershare-policy.toml")
    image = policy.rule("max-image-size")
    assert isinstance(image, ThresholdRule) and image.levels == Levels(fail=1_500_000_000, warn=800_000_000)
    allowed = policy.rule("allowed-bases")
    assert isinstance(allowed, AllowedBasesRule)
    assert allowed.levels == GlobLevels(fail=("debian:*", "python:3.12-*", "registry.example.com/base/*"))
    assert not policy.rule("min-efficiency").enabled
    assert policy.top_wasted == 10


RUNS = re.compile(r"(?:^|[\s/])layershare(?::[\w.]+)? (check|diff) (.*)")  # the command, or the image's


@pytest.mark.parametrize("workflow", sorted((EXAMPLES / "ci").glob("*.yml")), ids=lambda p: p.name)
def test_ci_examples_use_only_options_that_exist(workflow: Path) -> None:
    """Each layershare command a CI example runs (installed, or from layershare's image) parses with the
    options it gives; the image's `docker run` mounts the engine's socket."""
    import shlex

    from layershare.cli import cli

    found = {"check": 0, "diff": 0}
    for line in workflow.read_text().splitlines():
        hit = RUNS.search(line)
        if not hit:
            continue
        if "docker run" in line:
            assert "-v /var/run/docker.sock:/var/run/docker.sock" in line
        command, rest = hit[1], hit[2].split(">>")[0]
        args = shlex.split(rest.replace("${{ github.sha }}", "1").replace("$CI_COMMIT_SHORT_SHA", "1"))
        context = cli.commands[command].make_context(command, args)
        found[command] += 1
        if command == "check":
            assert context.params["images"] == ("app:1",)
            assert context.params["junit_xml"] == "layershare-junit.xml"
        else:
            assert context.params["old"] == "app:main" and context.params["new"] == "app:1"
    assert found["check"] and (found["diff"] or workflow.name == "gitlab-ci.yml")


def test_the_images_own_policy_loads_with_a_budget_and_no_waste() -> None:
    from layershare.policy.rules import Levels, ThresholdRule

    policy = load_policy(EXAMPLES / "layershare-image-policy.toml")
    wasted = policy.rule("max-wasted-bytes")
    assert isinstance(wasted, ThresholdRule) and wasted.levels == Levels(fail=1_000_000)
    unique = policy.rule("max-unique-size")
    assert isinstance(unique, ThresholdRule) and unique.levels == Levels(fail=150_000_000, warn=145_000_000)


def test_junit_xml_is_written_beside_the_main_format(tmp_path: Path) -> None:
    junit = tmp_path / "out.xml"
    result = check("fat-app:1", "--rule", "max-base-size=1MB", "--junit-xml", str(junit), cwd=tmp_path)
    assert result.returncode == ExitCode.CHECK_FAILED
    assert "FAILED" in result.stdout
    failures = ElementTree.parse(junit).getroot().findall(".//failure")
    assert [f.get("type") for f in failures] == ["max-base-size"]


def test_baseline_growth_pass_fail_warn_and_missing(tmp_path: Path) -> None:
    recording = json.loads(RECORDING.read_text())
    sizes = {s["Id"]: s["Size"] for s in recording["images"]}
    tags = {t: s["Id"] for s in recording["images"] for t in s.get("RepoTags") or ()}
    growth = sizes[tags["app-plus:1"]] - sizes[tags["app-one:1"]]
    assert growth > 10_000
    failed = check("app-plus:1", "--baseline", "app-one:1", "--rule", "max-growth=10kB", "--no-content")
    assert failed.returncode == ExitCode.CHECK_FAILED, failed.stderr
    line = next(x for x in failed.stdout.splitlines() if "max-growth " in x)
    assert f"growth={growth / 1000:.0f}kB > max-growth=10kB" in line
    assert "2.46MB vs baseline app-one:1 2.43MB" in line and "new layers: 6 `" in line
    passed = check("app-plus:1", "--baseline", "app-one:1", "--rule", "max-growth=1MB", "--no-content")
    assert passed.returncode == 0, passed.stderr
    warned = check("app-plus:1", "--baseline", "app-one:1", "--warn", "max-growth-percent=1%", "--no-content")
    assert warned.returncode == 0 and "WARN" in warned.stdout and "growth=+1.4%" in warned.stdout
    document = json.loads(
        check("app-plus:1", "--baseline", "app-one:1", "--rule", "max-growth=1MB", "-f", "json").stdout
    )
    baseline = document["images"][0]["baseline"]
    assert baseline["growth_bytes"] == growth and baseline["reference"] == "app-one:1"
    assert [layer["position"] for layer in baseline["added_layers"]] == [6]
    missing = check("app-plus:1", "--baseline", "nothere:1", "--rule", "max-growth=1MB")
    assert missing.returncode == ExitCode.IMAGE_NOT_FOUND
    assert (
        missing.stderr.startswith("layershare: error: baseline missing:") and missing.stderr.count("\n") == 1
    )
    several = check("app-plus:1", "app-two:1", "--baseline", "app-one:1")
    assert several.returncode == ExitCode.USAGE and "IMAGE=" in several.stderr


def test_baseline_from_a_saved_report_pairs_by_repository(tmp_path: Path) -> None:
    report = tmp_path / "main.json"
    report.write_text(cli("report", "--recording", str(RECORDING), "-f", "json").stdout)
    result = check(
        "app-plus:1", "app-two:1", "--baseline", str(report), "--rule", "max-growth=0", "-f", "json"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    growth = [r for r in document["results"] if r["rule"] == "max-growth"]
    assert {r["status"] for r in growth} == {"pass"} and {r["value"] for r in growth} == {0}
    paired = check("app-plus:1", "--baseline", f"app-plus:1={report}", "--rule", "max-growth=0")
    assert paired.returncode == 0, paired.stderr
    summary = check("app-plus:1", "--baseline", "app-one:1", "-f", "markdown")
    assert "## Growth over the baseline" in summary.stdout and "| +  |" in summary.stdout
