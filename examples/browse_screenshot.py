"""README's picture of ``layershare browse``: the example images in a private engine with containers
that log, at 100x30 in Chromium (Textual's SVG as a browser draws it), the images of ``disk``'s view with
two apps that share a layer marked, and one a container keeps.

    sudo .venv/bin/python examples/browse_screenshot.py docs/browse.png

Needs root, Debian's docker.io and chromium, and Playwright for Python (``pip install -e .[dev]``).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples"), str(ROOT / "tests")]

from corpus import build_corpus  # noqa: E402
from devengine import start_private_engine  # noqa: E402
from pages import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from layershare.browse.app import BrowseApp  # noqa: E402
from layershare.browse.session import loaders  # noqa: E402
from layershare.sources.choice import SourceChoice  # noqa: E402

MARKED = ["same-on-a:1", "same-on-b:1", "app-one:1"]  # two that share a layer; one a container uses


async def shoot(host: str, svg: Path) -> None:
    app = BrowseApp(loaders(SourceChoice(hosts=(host,)), None), view="disk")
    async with app.run_test(size=(100, 30)) as pilot:
        while not app.loaded:
            await pilot.pause(0.05)
        await pilot.pause(1.0)  # the walk of the data root fills in the sizes on disk
        await pilot.press("enter")  # the images
        for name in MARKED:
            await pilot.press("slash", *name, "enter", "space", "escape")
        await pilot.press("home")
        await pilot.pause()
        app.save_screenshot(str(svg))


def main() -> None:
    output = Path(sys.argv[1] if len(sys.argv) > 1 else "browse.png")
    engine = start_private_engine()
    try:
        build_corpus(engine.docker)
        engine.docker("run", "--network", "none", "--name", "logger", "app-one:1", "sh", "-c",
                      "i=0; while [ $i -lt 20000 ]; do echo a line of log output; i=$((i+1)); done")  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            svg = Path(folder, "browse.svg")
            asyncio.run(shoot(engine.host, svg))
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1100, "height": 700}, device_scale_factor=1)
                page.goto(svg.as_uri())
                page.locator("svg").screenshot(path=str(output))
                browser.close()
    finally:
        engine.stop()
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
