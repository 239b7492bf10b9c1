"""Engine 28.5.2 (Debian unstable's, with containerd 2.1), both image stores: what the report holds today.

On overlay2 the figures are the engine's own, as on 20.10 and 26.1. On the containerd store 28.5's
LayersSize counts every snapshot (containers' too) and the images' content blobs (moby's
``service.go`` at ``v28.5.2``): the report keeps the disk's figures there, and its note says what the
engine counts (the engine's own measure on 28.5 is still to come).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import cli, system_df
from support import private_engine

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module", params=["28.5-containerd", "28.5-overlay2"])
def engine28(request: pytest.FixtureRequest) -> Iterator[Any]:
    with private_engine(request.param) as engine:
        yield engine


def test_the_report_against_the_engines_accounting(engine28: Any) -> None:
    result = cli(engine28, "report", "-f", "json", "--no-cache")
    assert result.returncode == 0, result.stderr
    doc, df = json.loads(result.stdout), system_df(engine28)
    assert doc["engine"]["version"].startswith("28.5")
    engine = {i["Id"]: i for i in df["Images"]}
    assert {i["id"]: i["size_bytes"] for i in doc["images"]} == {k: v["Size"] for k, v in engine.items()}
    if not engine28.containerd:
        assert doc["totals"]["physical_bytes"] == df["LayersSize"]
        assert {i["id"]: i["shared_bytes"] for i in doc["images"]} == {
            k: v["SharedSize"] for k, v in engine.items()
        }
        return
    assert any("every snapshot and the images' content blobs" in note for note in doc["notes"])
    root = Path(engine28.data_root) / "containerd" / "daemon"
    out = subprocess.run(
        ["du", "-sxc", "--block-size=1", str(root / "io.containerd.content.v1.content" / "blobs"),
         str(root / "io.containerd.snapshotter.v1.overlayfs" / "snapshots")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    on_disk = int(out.stdout.splitlines()[-1].split()[0])
    totals = doc["totals"]
    assert abs(totals["physical_bytes"] + totals["other_bytes"] - on_disk) <= on_disk * 0.02
