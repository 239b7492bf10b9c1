"""``report -H A -H B --format html``: a section per engine, each with its own totals and its own
what-if panel (Engine 20.10 and Engine 26.1, both overlay2, holding the example images)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engines import cli, system_df
from pages import open_page
from support import cli as in_process

pytestmark = pytest.mark.engine


def test_a_section_per_engine_with_its_own_totals_and_what_if(
    engine: Any, engine26_graphdriver: Any, browser: Any, tmp_path: Path
) -> None:
    engines = [engine, engine26_graphdriver]
    args = [a for e in engines for a in ("-H", e.host)]
    result = in_process("report", "--format", "html", *args)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "hosts.html"
    path.write_text(result.stdout)
    page = open_page(browser, path)
    assert page.errors == []
    for section, private in enumerate(engines):
        df = system_df(private)
        assert sorted(page.image_ids(section)) == sorted(i["Id"] for i in df["Images"])
        assert page.figure("physical_bytes", section) == df["LayersSize"]
        tag = "app-plus:1"
        image_id = private.docker("image", "inspect", "--format", "{{.Id}}", tag).strip()
        free = cli(private, "free", "--format", "json", image_id)
        doc = json.loads(free.stdout)
        removed = {i["id"] for i in doc["images"] if i["removed"]}
        assert page.pick([image_id], section) == (doc["freed_bytes"], removed)
    both = sum(system_df(e)["LayersSize"] for e in engines)
    assert int(page.page.locator("[data-figure='all_physical_bytes']").get_attribute("data-bytes")) == both
