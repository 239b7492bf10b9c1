"""Thresholds, every rule (pass, fail, off, warn, mixed, skip) and policy configuration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from layershare.errors import ConfigError
from layershare.policy.config import load_policy
from layershare.policy.rules import AllowedBasesRule, GlobLevels, ImageFacts, Levels, Status, ThresholdRule
from layershare.policy.thresholds import parse_count, parse_ratio, parse_size

MB = 1000**2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500MB", 500_000_000),
        ("500mb", 500_000_000),
        ("1.5GiB", 1_610_612_736),
        ("1.5 GB", 1_500_000_000),
        ("20000000", 20_000_000),
        ("1kB", 1000),
        ("1KiB", 1024),
        ("3m", 3_000_000),
        ("0", 0),
        ("2TiB", 2 * 1024**4),
    ],
)
def test_sizes_parse_in_docker_and_binary_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "-1MB", "1XB", "1.2.3MB", "ten"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_size(text)


@pytest.mark.parametrize(("text", "expected"), [("10%", 0.1), ("0.9", 0.9), ("100%", 1.0), ("0", 0.0)])
def test_ratios_parse_as_percent_or_fraction(text: str, expected: float) -> None:
    assert parse_ratio(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["110%", "1.5", "-0.1", "abc%", "ten"])
def test_bad_ratios_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_ratio(text)


def test_counts_are_whole_numbers() -> None:
    assert parse_count("12") == 12
    with pytest.raises(ConfigError):
        parse_count("1.5")


FACTS = ImageFacts(
    image_id="sha256:" + "a" * 64,
    reference="app:1",
    tags=("app:1",),
    size_bytes=900 * MB,
    layers=12,
    unique_bytes=88 * MB,
    base_reference="runtime:3",
    base_bytes=812 * MB,
    base_share=812 / 900,
    base_reason="",
    base_repository="runtime",
    drift_versions=2,
    drift_detail="runtime: runtime:2, runtime:3",
    wasted_bytes=30 * MB,
    wasted_ratio=30 / 900,
    efficiency=0.95,
    waste_reason="",
    baseline_reference="app:0",
    baseline_bytes=780 * MB,
    growth_bytes=120 * MB,
    growth_ratio=120 / 780,
    growth_reason="",
    growth_detail="app:1 900MB vs baseline app:0 780MB; new layers: 5 `RUN pip install` +120MB",
)
UNKNOWN = replace(
    FACTS,
    base_reference=None,
    base_bytes=None,
    base_share=None,
    base_reason="no base found",
    base_repository=None,
    drift_versions=None,
    wasted_bytes=None,
    wasted_ratio=None,
    efficiency=None,
    waste_reason="contents not read",
    baseline_reference=None,
    baseline_bytes=None,
    growth_bytes=None,
    growth_ratio=None,
    growth_reason="no --baseline given",
)


def rule(key: str, fail: str | None = None, warn: str | None = None) -> ThresholdRule:
    policy = load_policy(
        cwd=Path("/"),
        rules=[f"{key}={fail or 'off'}"],
        warns=[f"{key}={warn or 'off'}"],
    )
    found = policy.rule(key)
    assert isinstance(found, ThresholdRule)
    return found


# (key, a level the facts pass, a level they fail, the value's message form)
THRESHOLD_CASES = [
    ("max-image-size", "1GB", "500MB", "size=900MB"),
    ("max-base-size", "1GB", "500MB", "base=812MB"),
    ("max-base-share", "95%", "0.5", "base-share=90.2%"),
    ("max-layers", "20", "10", "layers=12"),
    ("max-unique-size", "100MB", "50MB", "unique=88MB"),
    ("max-wasted-bytes", "50MB", "20MB", "wasted=30MB"),
    ("max-wasted-percent", "5%", "1%", "wasted=3.3%"),
    ("min-efficiency", "0.9", "99%", "efficiency=95.0%"),
    ("max-base-drift", "2", "1", "base-versions=2"),
    ("max-growth", "200MB", "100MB", "growth=120MB"),
    ("max-growth-percent", "20%", "10%", "growth=+15.4%"),
]


@pytest.mark.parametrize(("key", "passing", "failing", "shown"), THRESHOLD_CASES)
def test_threshold_rules_pass_fail_warn_mixed_off_and_skip(
    key: str, passing: str, failing: str, shown: str
) -> None:
    passed = rule(key, fail=passing).evaluate(FACTS)
    assert passed.status is Status.PASS
    failed = rule(key, fail=failing).evaluate(FACTS)
    assert failed.status is Status.FAIL
    sign = "<" if key.startswith("min-") else ">"
    assert failed.message.startswith(f"{shown} {sign} {key}=")
    assert rule(key, warn=failing).evaluate(FACTS).status is Status.WARN
    # mixed: crossing only the warn level warns, crossing the fail level fails
    assert rule(key, fail=passing, warn=failing).evaluate(FACTS).status is Status.WARN
    assert rule(key, fail=failing, warn=failing).evaluate(FACTS).status is Status.FAIL
    assert not rule(key).enabled
    if key not in {"max-image-size", "max-layers", "max-unique-size"}:
        skipped = rule(key, fail=failing).evaluate(UNKNOWN)
        assert skipped.status is Status.SKIP
        assert "unknown" in skipped.message


def test_growth_messages_carry_both_sizes_and_the_layers_that_grew() -> None:
    result = rule("max-growth", fail="100MB").evaluate(FACTS)
    assert result.message == (
        "growth=120MB > max-growth=100MB (app:1 900MB vs baseline app:0 780MB; new layers: 5 "
        "`RUN pip install` +120MB)"
    )
    assert (result.value, result.threshold) == (120 * MB, 100 * MB)
    # growth may pass 100% (an image can double); other ratios stop at 100%
    assert rule("max-growth-percent", fail="150%").levels.fail == 1.5
    with pytest.raises(ConfigError):
        rule("max-base-share", fail="150%")
    with pytest.raises(ConfigError):
        rule("max-growth-percent", fail="-5%")
    shrunk = replace(FACTS, growth_bytes=-3 * MB, growth_ratio=-3 / 780)
    assert rule("max-growth", fail="0").evaluate(shrunk).status is Status.PASS
    skipped = rule("max-growth", fail="1MB").evaluate(UNKNOWN)
    assert skipped.message == "growth unknown: no --baseline given"


def test_failure_messages_carry_both_numbers() -> None:
    result = rule("max-base-size", fail="500MB").evaluate(FACTS)
    assert result.message == "base=812MB > max-base-size=500MB (base runtime:3)"
    assert (result.value, result.threshold) == (812 * MB, 500 * MB)


@pytest.mark.parametrize(
    ("levels", "facts", "status"),
    [
        (GlobLevels(fail=("runtime:*",)), FACTS, Status.PASS),
        (GlobLevels(fail=("debian:*", "ubuntu:*")), FACTS, Status.FAIL),
        (GlobLevels(warn=("debian:*",)), FACTS, Status.WARN),
        (GlobLevels(fail=("runtime:*",), warn=("runtime:4",)), FACTS, Status.WARN),
        (GlobLevels(fail=("runtime:*",)), UNKNOWN, Status.FAIL),
        (GlobLevels(fail=("app:*",)), UNKNOWN, Status.PASS),  # the image is itself an allowed base
    ],
)
def test_allowed_bases(levels: GlobLevels, facts: ImageFacts, status: Status) -> None:
    result = AllowedBasesRule(levels).evaluate(facts)
    assert result.status is status
    if status is Status.FAIL and facts.base_reference:
        assert result.message == "base=runtime:3 is not one of allowed-bases=[debian:*, ubuntu:*]"
    assert not AllowedBasesRule().enabled


def test_defaults_are_the_documented_ones() -> None:
    policy = load_policy(cwd=Path("/"))
    enabled = {r.key: r for r in policy.enabled}
    assert set(enabled) == {"max-wasted-bytes", "max-wasted-percent", "max-base-drift"}
    wasted = enabled["max-wasted-bytes"]
    assert isinstance(wasted, ThresholdRule)
    assert wasted.levels == Levels(fail=20 * MB)
    drift = enabled["max-base-drift"]
    assert isinstance(drift, ThresholdRule)
    assert drift.levels == Levels(warn=1)
    assert policy.source == "defaults"


def test_pyproject_table_is_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.layershare.check]\nmax-base-size = "500MB"\n'
        'max-wasted-percent = { warn = "5%", fail = "10%" }\nallowed-bases = ["runtime:*"]\n'
        "top-wasted = 3\n"
    )
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    policy = load_policy(cwd=sub)
    assert policy.source == str(tmp_path / "pyproject.toml")
    assert policy.top_wasted == 3
    base = policy.rule("max-base-size")
    assert isinstance(base, ThresholdRule) and base.levels == Levels(fail=500 * MB)
    wasted = policy.rule("max-wasted-percent")
    assert isinstance(wasted, ThresholdRule) and wasted.levels == Levels(fail=0.1, warn=0.05)
    allowed = policy.rule("allowed-bases")
    assert isinstance(allowed, AllowedBasesRule) and allowed.levels == GlobLevels(fail=("runtime:*",))


def test_dot_layershare_toml_wins_over_pyproject_and_cli_overrides_both(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.layershare.check]\nmax-image-size = "1GB"\n')
    (tmp_path / ".layershare.toml").write_text('[check]\nmax-image-size = "2GB"\nmax-wasted-bytes = "off"\n')
    policy = load_policy(cwd=tmp_path, rules=["max-image-size=3GB"], warns=["max-layers=50"])
    assert policy.source == str(tmp_path / ".layershare.toml")
    image = policy.rule("max-image-size")
    assert isinstance(image, ThresholdRule) and image.levels == Levels(fail=3_000_000_000)
    assert not policy.rule("max-wasted-bytes").enabled
    layers = policy.rule("max-layers")
    assert isinstance(layers, ThresholdRule) and layers.levels == Levels(warn=50)


def test_explicit_config_file(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text('[check]\nmin-efficiency = "0.9"\n')
    assert load_policy(path).rule("min-efficiency").enabled
    with pytest.raises(ConfigError, match="no such config file"):
        load_policy(tmp_path / "missing.toml")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"has no \[tool.layershare.check\] table"):
        load_policy(tmp_path / "pyproject.toml")


def test_every_config_error_is_reported_at_once_with_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / ".layershare.toml"
    path.write_text(
        "[check]\n"
        'max-base-size = "lots"\n'
        'max-wasted-percent = "150%"\n'
        'max-image-sise = "1GB"\n'
        'min-efficiency = { fail = "0.9", alert = "0.95" }\n'
        "allowed-bases = 3\n"
        "max-layers = true\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_policy(cwd=tmp_path, rules=["max-layers", "nope=1"])
    lines = str(caught.value).splitlines()
    assert len(lines) == 8
    assert lines[0] == f"{path}: max-base-size: 'lots' is not a size (examples: 500MB, 1.5GiB, 20000000)"
    assert lines[1] == f"{path}: max-wasted-percent: '150%' is not between 0 and 1 (0% and 100%)"
    assert lines[2] == f"{path}: max-image-sise: unknown key (did you mean 'max-image-size'?)"
    assert lines[3].startswith(f"{path}: min-efficiency: unknown level 'alert'")
    assert lines[4].startswith(f"{path}: allowed-bases: expected a list of reference globs")
    assert lines[5] == f"{path}: max-layers: True is not a threshold"
    assert lines[6] == "--rule max-layers: expected KEY=VALUE"
    assert lines[7].startswith("--rule nope=1: unknown rule")


def test_invalid_toml_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".layershare.toml").write_text("[check\n")
    with pytest.raises(ConfigError, match=r"\.layershare\.toml: not valid TOML"):
        load_policy(cwd=tmp_path)
