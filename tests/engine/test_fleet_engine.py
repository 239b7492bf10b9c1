"""``export`` from real engines into one folder, and ``fleet`` over it: the fleet's totals are the sum of
each engine's report, and each layer's host count is the number of engines that store it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engines import cli, system_df

pytestmark = pytest.mark.engine


def test_exports_of_two_engines_add_up(engine: Any, engine26: Any, tmp_path: Path) -> None:
    folder = tmp_path / "fleet"
    reports = {}
    for name, private in (("builder-2010", engine), ("node-261", engine26)):
        done = cli(private, "export", "--to", str(folder), "--host-name", name)
        assert done.returncode == 0, done.stderr
        reports[name] = json.loads(cli(private, "report", "-f", "json").stdout)
    # On Engine 20.10 (overlay2) the report's physical bytes are the engine's own LayersSize.
    assert reports["builder-2010"]["totals"]["physical_bytes"] == system_df(engine)["LayersSize"]
    result = cli(engine, "fleet", str(folder), "-f", "json")
    assert result.returncode == 0, result.stderr
    fleet = json.loads(result.stdout)
    assert fleet["totals"]["hosts"] == 2
    for key in ("physical_bytes", "logical_bytes"):
        assert fleet["totals"][key] == sum(r["totals"][key] for r in reports.values())
    stored: dict[str, int] = {}
    for report in reports.values():
        for layer in report["layers"]:
            stored[layer["chain_id"]] = stored.get(layer["chain_id"], 0) + 1
    assert {la["chain_id"]: la["hosts"] for la in fleet["layers"]} == stored
    assert any(count == 2 for count in stored.values())  # the same example images: layers on both
    images = {i["id"]: i["hosts"] for i in fleet["images"]}
    assert len(images) == len({i["id"] for r in reports.values() for i in r["images"]})
