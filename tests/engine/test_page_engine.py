"""The HTML page and the sharing tree on real engines.

The page of each engine (20.10 overlay2, 26.1 with the containerd store) holding the example images and
the removal tests' state, opened in Debian's Chromium: offline, every image, the engine's physical
total; its what-if panel shows, for any pick of images, exactly ``layershare free IMAGE… --format
json``'s ``freed_bytes`` (and the same images removed). Then the same on a generated 1,000-image host.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from disk_state import build_disk_state
from engines import ROOT, api_calls_since, cli, engine_with_state, system_df
from free_state import build_free_state, replenish, settle
from pages import OpenPage, open_page

pytestmark = pytest.mark.engine

# Picks by tag: siblings, a base others stand on (blocked), a group sharing an untagged parent, a
# multi-tag image, one a container uses (blocked), a repository's versions, BuildKit's image.
PICKS = [
    ["on-x-one:1"],
    ["base-x:1"],
    ["base-x:1", "on-x-one:1", "on-x-two:1"],
    ["grp-a:1"],
    ["grp-a:1", "grp-b:1"],
    ["multi:1"],
    ["used:1"],
    ["versions:1", "versions:2", "versions:3"],
    ["bk-1:1"],
    ["app-one:1", "app-plus:1", "legacy-app:1"],
]


def layershare(engine: Any, *args: str) -> str:
    result = cli(engine, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def freed_by_free(engine: Any, image_ids: list[str]) -> tuple[int, set[str]]:
    doc = json.loads(layershare(engine, "free", "--format", "json", *image_ids))
    return doc["freed_bytes"], {i["id"] for i in doc["images"] if i["removed"]}


def image_id(engine: Any, tag: str) -> str:
    return engine.docker("image", "inspect", "--format", "{{.Id}}", tag).strip()


@pytest.fixture(scope="module", params=["20.10-overlay2", "26.1-containerd"])
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    def state(private: Any) -> None:
        build_disk_state(private)
        build_free_state(private)
        replenish(private, 1)
        settle(private)

    yield from engine_with_state(request.param, state)


@pytest.fixture(scope="module")
def page(engine: Any, browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenPage]:
    folder = tmp_path_factory.mktemp("page")
    path = folder / "report.html"
    mark = len(engine.log())
    path.write_text(layershare(engine, "report", "--format", "html", "--disk"))
    calls = api_calls_since(engine, mark)
    changing = [c for c in calls if c[0] not in ("GET", "HEAD")]
    assert changing == []  # the page is made by reading only
    # The engine is read once: each of its lists asked once for the images, the disk and the what-if.
    for listing in ("/info", "/images/json", "/containers/json", "/volumes"):
        assert sum(1 for _, path in calls if path.split("?")[0].endswith(listing)) == 1, (listing, calls)
    opened = open_page(browser, path)
    opened.page.screenshot(path=str(folder / "report.png"))  # for a person to look at
    yield opened
    opened.page.close()


def test_page_offline_every_image_and_the_engines_physical_total(engine: Any, page: OpenPage) -> None:
    assert page.errors == []
    assert len(page.requests) == 1 and page.requests[0].startswith("file://")
    report = json.loads(layershare(engine, "report", "--format", "json"))
    assert sorted(page.image_ids()) == sorted(i["id"] for i in report["images"])
    assert page.figure("physical_bytes") == report["totals"]["physical_bytes"]
    if not engine.containerd:  # on overlay2 that is the engine's own LayersSize
        assert page.figure("physical_bytes") == system_df(engine)["LayersSize"]
    # With --disk, the categories of `layershare disk`: the engine's own figures are the same.
    disk = json.loads(layershare(engine, "disk", "--format", "json"))
    table = page.page.locator("[data-section='0'] table.disk")
    shown = [row["category"] for row in disk["categories"]]
    assert table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.category)") == shown
    for row in disk["categories"]:
        if row["category"] in ("images", "containers", "volumes", "build_cache"):
            cell = table.locator(f"tr[data-category='{row['category']}'] td[data-field='bytes']")
            assert int(cell.get_attribute("data-bytes")) == row["bytes"], row


@pytest.mark.parametrize("tags", PICKS, ids=["+".join(p) for p in PICKS])
def test_what_if_panel_shows_what_free_says(engine: Any, page: OpenPage, tags: list[str]) -> None:
    ids = [image_id(engine, tag) for tag in tags]
    assert page.pick(ids) == freed_by_free(engine, ids)


@pytest.fixture(scope="module")
def host1000(browser: Any) -> Iterator[tuple[Any, OpenPage]]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from host_corpus import load_host
    from support import start_engine

    engine = start_engine()
    try:
        load_host(engine, 0, 1000)
        with tempfile.TemporaryDirectory() as folder:
            tags = engine.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split()
            engine.holder_tag = next(t for t in tags if "/app" in t)
            engine.docker("create", "--name", "holder", "--network", "none", engine.holder_tag, "true")
            path = Path(folder) / "report.html"
            path.write_text(layershare(engine, "report", "--format", "html"))
            assert path.stat().st_size <= 10_000_000
            opened = open_page(browser, path)
            yield engine, opened
            opened.page.close()
    finally:
        engine.stop()


def test_generated_1000_image_host(host1000: tuple[Any, OpenPage]) -> None:
    engine, page = host1000
    assert page.errors == []
    df = system_df(engine)
    assert sorted(page.image_ids()) == sorted(i["Id"] for i in df["Images"])
    assert len(df["Images"]) >= 1000
    assert page.figure("physical_bytes") == df["LayersSize"]
    ids = [i["Id"] for i in df["Images"]]
    rng = random.Random(7)
    picks = [rng.sample(ids, k) for k in (1, 1, 2, 3, 5, 40)]
    picks.append([image_id(engine, engine.holder_tag)])  # a container uses it: blocked
    for pick in picks:
        assert page.pick(pick) == freed_by_free(engine, pick), pick
