"""Engine 28.5.2 (Debian unstable's, with containerd 2.1), both image stores: what the report holds today.

On overlay2 the figures are the engine's own, as on 20.10 and 26.1. On the containerd store 28.5's
LayersSize counts every snapshot (containers' too) and the images' content blobs (moby's
``service.go`` at ``v28.5.2``): the report weighs the images' snapshots and blobs in that measure, and
what no image stands on in it too, so that the two add up to LayersSize; its note says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import cli, system_df, warm_reports_without_the_image_list
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
    # The engine's measure (each snapshot's recorded usage, each blob's length): the images' part is
    # physical, every snapshot no image stands on (containers', BuildKit's) is other, and together they
    # are LayersSize to the byte; the note says so.
    totals = doc["totals"]
    assert totals["physical_bytes"] + totals["other_bytes"] == df["LayersSize"]
    assert any("LayersSize also counts every snapshot no image stands on" in note for note in doc["notes"])
    assert any("moby#52476" in note for note in doc["notes"])  # the engine's per-image SHARED is wrong here
    assert totals["blob_bytes"] > 0 and totals["physical_disk_bytes"] > totals["physical_bytes"]


def test_removing_an_image_frees_exactly_its_unique_bytes(engine28: Any) -> None:
    """Last on this engine: one image at a time (single tag, no container), LayersSize drops by the
    report's unique bytes, on both stores."""
    for tag in ("overwrite:1", "trim-app:1", "same-on-a:1", "fat-app:1", "legacy-app:1"):
        result = cli(engine28, "report", "-f", "json", "--no-cache")
        image = next(i for i in json.loads(result.stdout)["images"] if tag in i["tags"])
        before = system_df(engine28)["LayersSize"]
        engine28.docker("image", "rm", tag)
        # overwrite:1's hidden parents go with it: on the containerd store its unique bytes count what
        # they hold alone; on overlay2 it shares layers only with them, and the report says how much.
        frees = image["unique_bytes"] + image["shared_with_parents_bytes"]
        assert before - system_df(engine28)["LayersSize"] == frees, tag


def test_a_warm_report_on_the_containerd_store_does_not_wait_on_the_image_list(
    engine28: Any, tmp_path: Path
) -> None:
    """:func:`engines.warm_reports_without_the_image_list` on Engine 28.5, both stores."""
    warm_reports_without_the_image_list(engine28, tmp_path / "cache")
