"""``report --format html`` opened in Debian's Chromium: offline, every image, the engine's totals, and
markup in instructions shown as text. (The what-if panel against ``free`` is in the engine tests.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from corpus import ArchiveImage, busybox_rootfs, write_load_archive
from pages import open_page
from support import cli

from layershare.render.html import script_json

MARKUP = [
    'RUN /bin/sh -c echo "<img src=x onerror=window.__pwned=1>" > /x # buildkit',
    "RUN /bin/sh -c echo '</script><script>window.__pwned=2</script><!--' > /y # buildkit",
]


def layershare(*args: str) -> str:
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_script_json_cannot_close_its_element() -> None:
    text = script_json({"created_by": "</script><script>alert(1)</script><!-- &amp;", "k": "\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["created_by"] == "</script><script>alert(1)</script><!-- &amp;"


def test_recorded_corpus_page_offline_every_image_and_the_engines_totals(
    recording: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    path = tmp_path / "report.html"
    recorded = tmp_path / "recording.json"
    recorded.write_text(json.dumps(recording))
    path.write_text(layershare("report", "--recording", str(recorded), "--format", "html"))
    opened = open_page(browser, path)
    assert opened.errors == []
    assert opened.requests == [path.resolve().as_uri()]  # nothing but the file itself
    df = recording["ground_truth"]["system_df"]
    assert sorted(opened.image_ids()) == sorted(i["Id"] for i in df["Images"])
    assert opened.figure("physical_bytes") == df["LayersSize"]
    assert opened.figure("logical_bytes") == sum(i["Size"] for i in df["Images"])
    text = opened.page.locator("[data-section='0'] .whatif").inner_text()
    assert "Needs a live Docker engine" in text  # a recording holds no removal model: said, not guessed
    opened.page.screenshot(path=str(tmp_path / "recorded.png"))
    assert (tmp_path / "recorded.png").stat().st_size > 10_000


def test_sorting_and_filtering_the_images_table(
    recording: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    path, recorded = tmp_path / "report.html", tmp_path / "recording.json"
    recorded.write_text(json.dumps(recording))
    path.write_text(layershare("report", "--recording", str(recorded), "--format", "html"))
    opened = open_page(browser, path)
    page = opened.page
    sizes = {i["Id"]: i["Size"] for i in recording["ground_truth"]["system_df"]["Images"]}
    page.locator("[data-section='0'] th button[data-sort='size']").click()
    order = opened.image_ids()
    assert [sizes[i] for i in order] == sorted(sizes.values(), reverse=True)
    page.locator("[data-section='0'] input[type=search]").fill("app-")
    shown = page.locator("[data-section='0'] table.images tbody tr:not([hidden])")
    tags = {i["Id"]: i["RepoTags"] or [] for i in recording["ground_truth"]["system_df"]["Images"]}
    expected = {i for i, t in tags.items() if any("app-" in name for name in t)}
    assert set(shown.evaluate_all("rows => rows.map(r => r.dataset.imageId)")) == expected


def test_markup_in_instructions_is_text_and_runs_nothing(browser: Any, tmp_path: Path) -> None:
    base = busybox_rootfs({"etc/os-release": b"ID=markup\n"})
    steps: list[tuple[str, bytes | None]] = [("ADD rootfs.tar / # buildkit", base)]
    steps += [(line, busybox_rootfs({f"m{n}": line.encode()})) for n, line in enumerate(MARKUP)]
    archive = tmp_path / "markup.tar"
    write_load_archive([ArchiveImage(["markup:1"], steps)], archive)
    path = tmp_path / "report.html"
    path.write_text(layershare("report", "--archive", str(archive), "--format", "html"))
    assert path.read_text().count("</script>") == 3  # the data, the chart library, the page's script
    opened = open_page(browser, path)
    page = opened.page
    page.locator("[data-section='0'] table.images tbody tr").first.click()
    detail = page.locator("[data-section='0'] .detail").inner_text()
    for line in MARKUP:
        assert line.removesuffix(" # buildkit") in detail  # literally, as text
    # The chart's tooltip is the one place the page writes HTML: show it on the markup layer.
    shown = page.evaluate(
        """() => {
            const chart = echarts.getInstanceByDom(document.querySelector("[data-section='0'] .chart"));
            const data = chart.getModel().getSeriesByIndex(0).getData();
            for (let i = 0; i < data.count(); i++) {
                if (data.getName(i).includes("onerror")) {
                    chart.dispatchAction({type: "showTip", seriesIndex: 0, dataIndex: i});
                    return true;
                }
            }
            return false;
        }"""
    )
    assert shown
    page.wait_for_timeout(300)
    tip = page.locator("[data-section='0'] .chart div").filter(has_text="onerror").last.inner_text()
    assert "<img src=x onerror=window.__pwned=1>" in tip
    assert page.evaluate(
        "() => window.__pwned === undefined && document.querySelectorAll('img').length === 0"
    )
    assert opened.errors == []
    page.screenshot(path=str(tmp_path / "markup.png"))


def test_content_size_column_where_the_engine_gives_it(
    recording: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    """CONTENT SIZE (the containerd store's manifests) is a sortable column with a legend; a recording
    without manifests shows neither."""
    listed = json.loads(json.dumps(recording))
    for n, summary in enumerate(listed["images"]):
        summary["Manifests"] = [
            {"Kind": "image", "Available": True, "Size": {"Content": 1000 * (n + 1), "Total": 1}}
        ]
    pages = {}
    for name, data in (("plain", recording), ("content", listed)):
        recorded = tmp_path / f"{name}.json"
        recorded.write_text(json.dumps(data))
        path = tmp_path / f"{name}.html"
        path.write_text(layershare("report", "--recording", str(recorded), "--format", "html"))
        pages[name] = open_page(browser, path)
    plain, content = pages["plain"].page, pages["content"].page
    assert plain.locator("th button[data-sort='content']").count() == 0
    assert plain.locator(".legend").count() == 0
    assert "CONTENT SIZE" in content.locator("[data-section='0'] .legend").inner_text()
    content.locator("[data-section='0'] th button[data-sort='content']").click()
    order = pages["content"].image_ids()
    by_id = {s["Id"]: int(s["Manifests"][0]["Size"]["Content"]) for s in listed["images"]}
    assert [by_id[i] for i in order] == sorted((by_id[i] for i in order), reverse=True)
