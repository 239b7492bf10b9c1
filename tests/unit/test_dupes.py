"""``layershare dupes`` without an engine: the figures of docs/dupes.md on stored layers made here, the
advice (one suggestion per set of layers, each file once, the nearest base), and the outputs. The engine
tests (``tests/engine/test_dupes_engine.py``) hold the figures to an independent count of ``docker save``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from layershare.dupes.analysis import analyse
from layershare.formats import DupesFormat
from layershare.model import DupesImage, DupesInput, LayerFiles, StoredCopy
from layershare.render.dupes import render_dupes


def copy(path: str, size: int, digest: str, mode: int = 0o644, uid: int = 0) -> StoredCopy:
    return StoredCopy(path, size, mode, uid, uid, digest)


BASE, APP_A, APP_B, APP_C = "sha256:base", "sha256:a", "sha256:b", "sha256:c"
LAYERS = {
    BASE: LayerFiles(BASE, "d0", (copy("bin/sh", 1000, "sh"), copy("etc/x", 5, None))),  # type: ignore[arg-type]
    APP_A: LayerFiles(APP_A, "d1", (copy("usr/lib/l.so", 300, "lib"), copy("usr/lib/m.so", 200, "m"))),
    APP_B: LayerFiles(APP_B, "d1", (copy("usr/lib/l.so", 300, "lib"), copy("usr/lib/m.so", 200, "m"))),
    APP_C: LayerFiles(
        APP_C, "d2", (copy("usr/lib/l.so", 300, "lib", mode=0o600), copy("opt/sh", 1000, "sh"))
    ),
}
IMAGES = (
    DupesImage("sha256:i0", ("base:1",), (BASE,)),
    DupesImage("sha256:i1", ("a:1",), (BASE, APP_A)),
    DupesImage("sha256:i2", ("b:1",), (BASE, APP_B)),
    DupesImage("sha256:i3", ("c:1",), (BASE, APP_C)),
)


def test_the_figures_follow_their_definitions() -> None:
    report = analyse(DupesInput("here", "files", IMAGES, LAYERS))
    assert report.stored_layers == 4 and report.stored_files == 8
    assert report.stored_bytes == 1005 + 500 + 500 + 1300
    # each content: (copies - 1) x size: lib 3 copies, m 2, sh 2
    assert report.duplicate_bytes == 2 * 300 + 200 + 1000
    # same path, content, mode, owner in several layers: l.so in A and B (C's is 0600), m.so in A and B
    assert report.consolidatable_bytes == 300 + 200
    lib = next(g for g in report.groups if g.digest == "lib")
    assert (lib.copies, lib.wasted, lib.consolidatable, lib.layers) == (3, 600, 300, (APP_A, APP_B, APP_C))
    assert [i.tags[0] for i in lib.images] == ["a:1", "b:1", "c:1"]
    assert report.groups[0].digest == "sh"  # the largest waste first


def test_the_advice_is_one_suggestion_per_set_of_layers_with_the_nearest_base() -> None:
    report = analyse(DupesInput("here", "files", IMAGES, LAYERS))
    (advice,) = report.advice
    assert advice.layers == (APP_A, APP_B) and advice.files == 2 and advice.bytes == 500
    assert advice.saving_bytes == 500 and advice.folders == (("/usr/lib", 2),)
    assert advice.base is not None and advice.base.tags == ("base:1",)


def test_an_unread_layer_is_left_out_and_said() -> None:
    layers = dict(LAYERS)
    layers[APP_B] = LayerFiles(APP_B, "d1", (), unread="usr/lib/m.so: No such file or directory")
    report = analyse(DupesInput("here", "files", IMAGES, layers))
    assert report.unread == ((APP_B, "usr/lib/m.so: No such file or directory"),)
    assert report.stored_layers == 4 and report.stored_files == 6 and report.consolidatable_bytes == 0


def test_the_outputs() -> None:
    report = analyse(DupesInput("here", "files", IMAGES, LAYERS))
    doc = json.loads(render_dupes(report, DupesFormat.JSON))
    assert doc["schema"] == "layershare.dupes/v1"
    assert {
        "stored_files",
        "stored_bytes",
        "duplicate_bytes",
        "consolidatable_bytes",
        "groups",
        "advice",
    } <= set(doc)
    group = doc["groups"][0]
    assert {"digest", "size", "copies", "paths", "images", "layers", "consolidatable"} <= set(group)
    assert group["paths"] == ["/bin/sh", "/opt/sh"]
    rows = list(csv.reader(io.StringIO(render_dupes(report, DupesFormat.CSV))))
    assert rows[0][:3] == ["digest", "size", "copies"] and len(rows) == 1 + len(report.groups)
    table = render_dupes(report, DupesFormat.TABLE)
    assert "2 images carry these 2 files (500B)" in table and "move them into base:1" in table
    assert render_dupes(report, DupesFormat.MARKDOWN).startswith("## Files stored more than once")


def test_an_images_own_layers_duplicate_what_other_layers_hold() -> None:
    from layershare.policy.duplicates import own_duplicates

    found = DupesInput("here", "files", IMAGES, LAYERS)
    result = own_duplicates(found, {"sha256:i1": [APP_A], "sha256:i3": [APP_C], "sha256:i0": [BASE]})
    assert result["sha256:i1"][0] == 500  # l.so and m.so are in B's layer too
    assert result["sha256:i3"][0] == 1300  # its 0600 l.so (content in A and B) and opt/sh (the base's bin/sh)
    assert "/opt/sh 1kB (also in base:1)" in result["sha256:i3"][1]
    assert result["sha256:i0"][0] == 1000 and "(also in c:1)" in result["sha256:i0"][1]


def test_an_archive_read_as_it_streams(tmp_path: Path) -> None:
    """``dupes --archive``: a ``docker load`` archive (two bases, one layer on both: the same diff ID on
    two parents, two stored layers), hashed as it streams."""
    from corpus import ArchiveImage, _tar, write_load_archive

    from layershare.sources.choice import SourceChoice
    from layershare.sources.dupes.collect import collect

    base_a, base_b = _tar({"etc/a": b"a" * 50}), _tar({"etc/b": b"b" * 60})
    app = _tar({"srv/app.bin": b"x" * 1000, "srv/again.bin": b"x" * 1000, "srv/empty": b""})
    archive = tmp_path / "saved.tar"
    write_load_archive([ArchiveImage(["one:1"], [("ADD a", base_a), ("COPY app", app)]),
                        ArchiveImage(["two:1"], [("ADD b", base_b), ("COPY app", app)])], archive)  # fmt: skip
    report = analyse(collect(SourceChoice(archives=(str(archive),))))
    assert report.stored_layers == 4 and report.stored_files == 2 + 2 * 2  # app's layer stored twice
    assert report.stored_bytes == 50 + 60 + 2 * 2000
    assert report.duplicate_bytes == 3 * 1000  # four copies of one content
    assert report.consolidatable_bytes == 2 * 1000  # each path in both stored app layers
    (advice,) = report.advice
    assert {i.tags[0] for i in advice.images} == {"one:1", "two:1"} and advice.files == 2


def test_a_hostile_path_or_name_is_text_in_every_format() -> None:
    """Paths and names come from images: no control character reaches a terminal, no CSV cell runs."""
    hostile = "usr/\x1b]0;pwned\x07/\x1b[2Jx.so"
    layers = {
        APP_A: LayerFiles(APP_A, "d1", (copy(hostile, 300, "lib"),)),
        APP_B: LayerFiles(APP_B, "d1", (copy(hostile, 300, "lib"),)),
    }
    images = (
        DupesImage("sha256:i1", ("=cmd|' /C calc'!A0",), (APP_A,)),
        DupesImage("sha256:i2", ("b:1",), (APP_B,)),
    )
    report = analyse(DupesInput("here", "files", images, layers))
    for fmt in (DupesFormat.TABLE, DupesFormat.MARKDOWN, DupesFormat.CSV):
        text = render_dupes(report, fmt)
        assert "\x1b" not in text and "\x07" not in text and "\\x1b]0;pwned\\x07" in text, fmt
    for row in csv.reader(io.StringIO(render_dupes(report, DupesFormat.CSV))):
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)
