"""README's picture of the page: the example images in a private engine, ``report --format html``,
opened in Debian's Chromium at 1280x800 with two images picked in the what-if panel.

    sudo .venv/bin/python examples/page_screenshot.py docs/report-page.png

Needs root, Debian's docker.io and chromium, and Playwright for Python (``pip install -e .[dev]``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(ROOT / "tests")]

from corpus import build_corpus  # noqa: E402
from devengine import start_private_engine  # noqa: E402
from pages import CHROMIUM, CHROMIUM_ARGS, open_page  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

PICKED = ["app-one:1", "app-plus:1"]


def main() -> None:
    output = Path(sys.argv[1] if len(sys.argv) > 1 else "report-page.png")
    engine = start_private_engine()
    try:
        build_corpus(engine.docker)
        with tempfile.TemporaryDirectory() as folder:
            page_file = Path(folder) / "report.html"
            html = subprocess.run(
                [sys.executable, "-m", "layershare", "report", "--format", "html"],
                env=engine.env(), capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            page_file.write_text(html)
            ids = [engine.docker("image", "inspect", "--format", "{{.Id}}", t).strip() for t in PICKED]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                opened = open_page(browser, page_file)
                opened.pick(ids)
                opened.page.evaluate("window.scrollTo(0, 0)")
                opened.page.wait_for_timeout(800)  # the chart draws its labels a frame later
                opened.page.screenshot(path=str(output))
                browser.close()
    finally:
        engine.stop()
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
