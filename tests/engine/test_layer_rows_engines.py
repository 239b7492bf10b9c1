"""browse's layer rows and ``layershare dupes`` on the engine x store pairs the browse and dupes modules
do not start (Engine 26.1 and 28.5 on both stores, 29.7 on overlay2), each holding the example corpus and
the dupes tests' images: every image's rows against ``docker history`` (and, on the containerd store, the
manifest's blobs from ``docker save``), the global layers view against ``/system/df``, and dupes' figures
against the count made from ``docker save`` and against the group's export."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus import write_load_archive
from engines import system_df
from support import private_engine
from test_browse_engine import pilot
from test_browse_engine import test_every_layer_is_one_row_saying_what_made_it_as_history_does as test_rows  # noqa: F401
from test_dupes_engine import images
from test_dupes_engine import (
    test_root_reads_the_layer_store_and_agrees_with_an_independent_count as test_root,  # noqa: F401
)
from test_dupes_engine import test_the_docker_group_reads_the_export_and_gets_roots_figures as test_group  # noqa: F401

from layershare.browse.app import BrowseApp

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module", params=["26.1-overlay2", "26.1-containerd", "28.5-overlay2", "28.5-containerd",
                                        "29.7-overlay2"])  # fmt: skip
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    def load(private: Any) -> None:
        with tempfile.TemporaryDirectory() as folder:
            write_load_archive(images(), Path(folder, "dupes.tar"))
            private.docker("load", "-i", str(Path(folder, "dupes.tar")))

    with private_engine(request.param, build=load) as private:
        # No container: before 29.6 the containerd store's LayersSize counts containers' snapshots too.
        private.docker("container", "prune", "-f")
        yield private


def test_the_layers_view_adds_up_to_layers_size(engine: Any) -> None:
    """Each stored layer once, and the rows add up to the engine's LayersSize (no container here: before
    29.6 the containerd store's LayersSize counts containers' snapshots too, which are not layers)."""
    seen: dict[str, int] = {}

    def look(app: BrowseApp) -> None:
        layers = [n for n in app.stack[-1].shown if n.kind == "layer"]
        seen["rows"] = sum(n.bytes or 0 for n in app.stack[-1].shown)
        seen["twice"] = len(layers) - len({n.key for n in layers})

    pilot(engine, [], view="layers", check=look, size=(80, 24))
    assert seen["twice"] == 0
    assert seen["rows"] == system_df(engine)["LayersSize"]
