"""The GC policy of the engine's own BuildKit, as ``layershare disk`` works it out from daemon.json and
the disk (as root), against what the engine's BuildKit reports (``docker buildx inspect default``, which
asks it over the engine's ``/grpc``), on Engine 20.10, 26.1, 28.5 and 29.7, with and without a
``builder.gc`` section."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from typing import Any

import pytest
from buildx_builders import BUILDX, CLI_29
from engines import cli
from support import need, private_engine

pytestmark = pytest.mark.engine

UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]


def bytes_size(value: int) -> str:
    """go-units' ``BytesSize`` (binary, four significant digits), as buildx prints a rule's sizes."""
    size, n = float(value), 0
    while size >= 1024 and n < len(UNITS) - 1:
        size, n = size / 1024, n + 1
    return f"{size:.4g}{UNITS[n]}"


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String`` for the durations rules hold."""
    if ns < 1_000_000_000:
        for unit, scale in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= scale:
                return f"{ns / scale:g}{unit}"
        return "0s"
    seconds = ns // 1_000_000_000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else (f"{minutes}m{secs}s" if minutes else f"{secs}s")


def inspected(engine: Any) -> list[dict[str, str]]:
    """``docker buildx inspect default``'s GC rules, each its printed fields."""
    need(BUILDX.exists(), "buildx is not unpacked (run .ci/buildx)")
    config = tempfile.mkdtemp(prefix="layershare-buildx-")
    os.makedirs(f"{config}/cli-plugins")
    os.symlink(BUILDX, f"{config}/cli-plugins/docker-buildx")
    env = {**engine.env(), "DOCKER_CONFIG": config}
    out = subprocess.run([str(CLI_29 / "docker"), "buildx", "inspect", "default"], env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    rules: list[dict[str, str]] = []
    for line in out.splitlines():
        if line.startswith("GC Policy rule#"):
            rules.append({})
        elif rules and (found := re.match(r"^ (\w[\w ]*?):\s+(.*)$", line)):
            rules[-1][found.group(1)] = found.group(2).strip()
    return rules


def printed(rule: dict[str, Any]) -> dict[str, str]:
    """A rule of ``build_cache_gc.gc_policy`` as buildx prints it (zero fields left out)."""
    found = {"All": "true" if rule["all"] else "false"}
    if rule["filters"]:
        found["Filters"] = " ".join(rule["filters"])
    if rule["keep_duration_ns"]:
        found["Keep Duration"] = go_duration(rule["keep_duration_ns"])
    for key, label in (("reserved_space", "Reserved Space"), ("max_used_space", "Max Used Space"),
                       ("min_free_space", "Min Free Space")):  # fmt: skip
        if rule[key]:
            found[label] = bytes_size(rule[key])
    return found


def to_second(rule: dict[str, str]) -> dict[str, str]:
    """A printed rule with its keep duration cut to whole seconds where it is over a second."""
    duration = rule.get("Keep Duration", "")
    if re.fullmatch(r"\d+h\d+m\d+(\.\d+)?s", duration):
        return {**rule, "Keep Duration": re.sub(r"\.\d+s$", "s", duration)}
    return rule


CASES = {
    "29.7 defaults": ("29.7-containerd", None),
    "29.7 sizes": ("29.7-overlay2", {"gc": {"defaultReservedSpace": "5GB", "defaultMaxUsedSpace": "20GB",
                                            "defaultMinFreeSpace": "10GB"}}),
    "29.7 policy": ("29.7-overlay2", {"gc": {"policy": [
        {"keepStorage": "1GB", "filter": ["unused-for=2200h", "type=regular"]},
        {"all": True, "reservedSpace": "2GB", "maxUsedSpace": "8GB"}]}}),
    "28.5 defaults": ("28.5-overlay2", None),
    "26.1 off": ("26.1-overlay2", None),
    "26.1 on": ("26.1-overlay2", {"gc": {"enabled": True, "defaultKeepStorage": "3GB"}}),
    "20.10 on": ("20.10-overlay2", {"gc": {"enabled": True}}),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_the_engines_buildkit_gc_policy_is_what_it_reports(case: str) -> None:
    kind, builder = CASES[case]
    config = {"builder": builder} if builder is not None else None
    with private_engine(kind, corpus=False, daemon_config=config) as engine:
        from corpus import busybox_rootfs

        engine.docker("import", "-", "base:1", input_bytes=busybox_rootfs({}))
        ran = cli(engine, "disk", "--format", "json")
        assert ran.returncode == 0, ran.stderr
        gc = json.loads(ran.stdout)["build_cache_gc"]
        truth = inspected(engine)
        assert gc is not None and gc["gc_enabled"] == bool(truth)
        # BuildKit turns an unused-for filter into a time and back (some microseconds later): to the second
        assert [printed(r) for r in gc["gc_policy"]] == [to_second(r) for r in truth]
        if case == "28.5 defaults":  # one filter all three types must match: it takes nothing
            assert gc["gc_policy"][0]["filters"] == [
                "type==source.local,type==exec.cachemount,type==source.git.checkout"
            ]
        expected_from = "defaults" if builder is None or case == "20.10 on" else "daemon.json"
        assert gc["gc_policy_from"] == expected_from
