"""Engine 29.7.2, both image stores: the report's figures are the engine's own accounting.

On the containerd store (Engine 29's default) ``LayersSize`` counts each image's snapshot chain (the
classic builder's step snapshots inside it too) at the usage containerd records, and each content
blob an image reaches at its size, each once (moby ``daemon/containerd/service.go`` at
``docker-v29.7.2``): layershare's physical bytes equal it to the byte, and each image's SIZE and
SHARED SIZE equal ``docker system df -v``'s. On overlay2 they are the layer store's, as on 20.10.
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


@pytest.fixture(scope="module", params=["29.7-containerd", "29.7-overlay2"])
def engine29(request: pytest.FixtureRequest) -> Iterator[Any]:
    with private_engine(request.param) as engine:
        yield engine


def report(engine: Any, *args: str) -> dict[str, Any]:
    result = cli(engine, "report", "-f", "json", "--no-cache", *args)
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def du(*paths: Path) -> int:
    out = subprocess.run(
        ["du", "-s", "-c", "--block-size=1", *map(str, paths)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.splitlines()[-1].split()[0])


def test_physical_bytes_are_the_engines_layers_size(engine29: Any) -> None:
    doc, df = report(engine29), system_df(engine29)
    assert doc["engine"]["version"] == "29.7.2"
    assert doc["totals"]["physical_bytes"] == df["LayersSize"]
    if engine29.containerd:
        assert doc["engine"]["image_store"] == "containerd"
        assert doc["totals"]["blob_bytes"] > 0 and doc["totals"]["step_snapshot_bytes"] > 0
        assert any("in the engine's own measure" in note for note in doc["notes"])
        # The same blobs and snapshots as du counts them, plus what no image uses, are the store's blobs
        # and snapshots on disk, to 2% (the folders that hold the store are not an image's); physical,
        # the engine's measure, leaves out each file's block rounding and each snapshot's folders.
        root = Path(engine29.data_root) / "containerd" / "daemon"
        on_disk = du(
            root / "io.containerd.content.v1.content" / "blobs",
            root / "io.containerd.snapshotter.v1.overlayfs" / "snapshots",
        )
        totals = doc["totals"]
        assert totals["physical_bytes"] < totals["physical_disk_bytes"]
        assert abs(totals["physical_disk_bytes"] + totals["other_bytes"] - on_disk) <= on_disk * 0.02
