"""The HTML page at 1,000 and 10,000 images: its size, how long it takes to make, and how long until it is
interactive in headless Chromium.

    python benchmarks/page.py [--sizes 1000,10000] [--runs 3] [--dockerd PATH]

Loads the seeded host of ``host_corpus.py`` into a private engine in steps (about 80 s per 1,000
images here) and at each size measures, side by side in one run:

- making the page: ``layershare report --format html`` against ``report --format json`` (both with
  the image cache filled), median wall time and peak memory of the process;
- the page: its size in bytes (target: at most 10 MB at 10,000 images);
- opening it in Debian's Chromium (Playwright, a new tab each run, median): the time from navigation
  to the first frame painted with everything in it (``data-ready-ms``, the page's own clock; target:
  within 2 s at 10,000 images), against a baseline page holding only the same chart library and a
  one-rectangle chart; and how long the what-if panel takes to replay ``free`` for a ticked image.

Needs root, Debian's docker.io and chromium, and Playwright for Python.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "tests"), str(ROOT / "examples")]

from devengine import start_private_engine  # noqa: E402
from host_corpus import load_host  # noqa: E402
from machine import describe_machine  # noqa: E402
from pages import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from scale import measure  # noqa: E402

from layershare.render.html import _asset  # noqa: E402

BASELINE = """<!doctype html><html><head><meta charset="utf-8"></head><body>
<div id="c" style="width:900px;height:480px"></div><script>{charts}</script>
<script>const chart = echarts.init(document.getElementById("c"));
chart.setOption({{series: [{{type: "treemap", data: [{{name: "x", value: 1}}]}}]}});
requestAnimationFrame(() => setTimeout(() => {{
  document.body.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  document.body.setAttribute("data-ready", "true");
}}, 0));</script></body></html>"""


def open_times(browser: object, path: Path, runs: int, pick: bool) -> tuple[float, float]:
    """Median ms until the page is drawn, and until one ticked image shows its figure (0 if not asked)."""
    ready, ticks = [], []
    for _ in range(runs):
        page = browser.new_page(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        ready.append(float(page.get_attribute("body", "data-ready-ms")))
        if pick:
            box = page.locator("[data-section='0'] table.images tbody tr input[type=checkbox]").first
            box.click()
            page.wait_for_selector("[data-section='0'] .whatif .picked-count:text('1')")
            ticks.append(float(page.get_attribute("[data-section='0'] .whatif", "data-replay-ms")))
        page.close()
    return statistics.median(ready), statistics.median(ticks) if ticks else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="image counts, ascending (default 1000,10000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median; default 3)")
    parser.add_argument("--dockerd", help="another dockerd binary")
    options = parser.parse_args()
    engine = start_private_engine(dockerd=options.dockerd)
    try:
        print(describe_machine(engine))
        loaded = 0
        with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            baseline_page = Path(tmp) / "baseline.html"
            baseline_page.write_text(BASELINE.format(charts=_asset("echarts.min.js")))
            for n in [int(s) for s in options.sizes.split(",")]:
                start = time.perf_counter()
                load_host(engine, loaded, n)
                print(f"\nloaded images {loaded}-{n - 1} in {time.perf_counter() - start:.0f}s")
                loaded = n
                env = engine.env()
                cache = ["--cache-dir", str(Path(tmp) / "cache"), "--quiet"]
                py = [sys.executable, "-m", "layershare", "report", *cache]
                measure("fill the cache", [*py, "--format", "json"], env, 1)
                json_run, _ = measure("report --format json", [*py, "--format", "json"], env, options.runs)
                html_run, html = measure("report --format html", [*py, "--format", "html"], env, options.runs)
                page = Path(tmp) / f"report-{n}.html"
                page.write_text(html)
                size = page.stat().st_size
                ready, tick = open_times(browser, page, options.runs, pick=True)
                base_ready, _ = open_times(browser, baseline_page, options.runs, pick=False)
                print(f"\n{n} images (median of {options.runs}):")
                print("| measured | value | baseline | ratio |\n| --- | --- | --- | --- |")
                print(
                    f"| making the page (wall, peak memory) | {html_run.median:.2f} s, {html_run.rss / 1e6:.0f} MB "
                    f"| report --format json {json_run.median:.2f} s, {json_run.rss / 1e6:.0f} MB "
                    f"| {html_run.median / json_run.median:.2f} |"
                )
                print(f"| page size | {size / 1e6:.2f} MB | target 10 MB | {size / 10e6:.2f} |")
                print(
                    f"| drawn and interactive in Chromium | {ready / 1000:.2f} s | the chart library alone "
                    f"{base_ready / 1000:.2f} s | {ready / base_ready:.2f} (target: within 2 s) |"
                )
                print(f"| what-if replay for one ticked image | {tick:.1f} ms | | |")
            browser.close()
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
