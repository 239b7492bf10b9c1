"""Open layershare's HTML page in Debian's Chromium (Playwright drives it) and read what a person sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
# As the machine's closed network wants it: no background connections, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class OpenPage:
    """A page opened from disk, with every console message, page error and request it made."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def figure(self, name: str, section: int = 0) -> int:
        """The exact bytes a summary card shows."""
        card = self.page.locator(f"[data-section='{section}'] [data-figure='{name}']")
        return int(card.get_attribute("data-bytes"))

    def image_ids(self, section: int = 0) -> list[str]:
        rows = self.page.locator(f"[data-section='{section}'] table.images tbody tr")
        return [str(i) for i in rows.evaluate_all("rows => rows.map(r => r.dataset.imageId)")]

    def pick(self, image_ids: list[str], section: int = 0) -> tuple[int, set[str]]:
        """Tick these images (and only these) in the what-if panel: (freed bytes shown, removed IDs)."""
        scope = f"[data-section='{section}']"
        self.page.locator(f"{scope} .whatif button").click()  # Clear
        for image_id in image_ids:
            self.page.locator(f"{scope} tr[data-image-id='{image_id}'] input[type=checkbox]").click()
        panel = self.page.locator(f"{scope} .whatif")
        freed = int(panel.locator(".freed").get_attribute("data-freed-bytes"))
        removed = panel.locator(".goes").get_attribute("data-removed") or ""
        return freed, set(removed.split())


def open_page(browser: Any, path: Path, *, width: int = 1280, height: int = 800) -> OpenPage:
    """Load ``path`` (file://) and wait until its script has drawn everything."""
    page = browser.new_page(viewport={"width": width, "height": height})
    opened = OpenPage(page)
    page.on(
        "console",
        lambda m: (
            opened.errors.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda e: opened.errors.append(f"page error: {e}"))
    page.on("request", lambda r: opened.requests.append(r.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    return opened
