"""Replaying layers: each wasted copy counted once, the visible copy never, base waste kept apart."""

from __future__ import annotations

import pytest

from layershare.model import FileEntry, ImageContent, LayerContent
from layershare.policy.waste import analyse_waste


def image(*layers: list[FileEntry]) -> ImageContent:
    contents = tuple(
        LayerContent(f"sha256:{n:064d}", sum(f.size_bytes for f in files), tuple(files))
        for n, files in enumerate(layers)
    )
    return ImageContent("sha256:" + "c" * 64, (), tuple(c.diff_id for c in contents), contents, "docker")


def f(path: str, size: int) -> FileEntry:
    return FileEntry(path, "file", size)


def wh(path: str) -> FileEntry:
    return FileEntry(path, "whiteout")


def test_written_then_deleted() -> None:
    waste = analyse_waste(image([f("big", 1000), f("keep", 10)], [wh("big")]))
    assert (waste.wasted_bytes, waste.base_wasted_bytes, waste.wasted_files) == (1000, 0, 1)
    assert waste.content_bytes == 1010
    (item,) = waste.top
    assert (item.path, item.size_bytes, item.written_by, item.removed_by, item.how) == (
        "big",
        1000,
        0,
        1,
        "deleted",
    )


def test_overwritten_twice_counts_each_old_copy_once_and_never_the_kept_one() -> None:
    waste = analyse_waste(image([f("data", 100)], [f("data", 120)], [f("data", 80)]))
    assert waste.wasted_bytes == 220  # dive would say 300 (issue 684)
    assert waste.content_bytes == 300
    assert waste.efficiency == pytest.approx(80 / 300)
    assert [(w.size_bytes, w.written_by, w.removed_by) for w in waste.top] == [(120, 1, 2), (100, 0, 1)]


def test_deleting_a_folder_wastes_everything_under_it() -> None:
    waste = analyse_waste(
        image([FileEntry("doc", "dir"), f("doc/a", 5), f("doc/sub/b", 7), f("other", 1)], [wh("doc")])
    )
    assert waste.wasted_bytes == 12
    assert {w.path for w in waste.top} == {"doc/a", "doc/sub/b"}


def test_an_opaque_folder_hides_lower_files_but_keeps_its_own() -> None:
    waste = analyse_waste(
        image(
            [f("etc/a", 10), f("etc/deep/b", 20), f("lib/c", 40)],
            [FileEntry("etc", "opaque"), f("etc/new", 5), f("etc/deep/d", 3)],
        )
    )
    assert waste.wasted_bytes == 30
    assert {(w.path, w.how) for w in waste.top} == {("etc/a", "hidden"), ("etc/deep/b", "hidden")}


def test_a_file_replaced_by_a_folder_and_back() -> None:
    waste = analyse_waste(image([f("x", 50)], [FileEntry("x", "dir"), f("x/y", 5)], [f("x", 1)]))
    assert waste.wasted_bytes == 55


def test_base_waste_stays_apart_from_the_images_own() -> None:
    content = image(
        [f("base.bin", 500), f("cache", 300)],  # base layer 0
        [wh("cache")],  # base layer 1: the base's own waste
        [wh("base.bin"), f("app", 10)],  # the image's layer: deletes a base file
        [f("tmp", 70)],
        [wh("tmp")],
    )
    waste = analyse_waste(content, base_layers=2)
    assert waste.base_wasted_bytes == 300
    assert waste.wasted_bytes == 570
    assert waste.wasted_ratio == pytest.approx(570 / 880)
    assert waste.efficiency == pytest.approx(1 - 870 / 880)


def test_no_waste_and_an_empty_image() -> None:
    clean = analyse_waste(image([f("a", 1)], [f("b", 2)]))
    assert (clean.wasted_bytes, clean.efficiency, clean.top) == (0, 1.0, ())
    empty = analyse_waste(image())
    assert (empty.content_bytes, empty.wasted_ratio, empty.efficiency) == (0, 0.0, 1.0)


def test_top_keeps_only_the_largest() -> None:
    content = image([f(f"f{i}", i + 1) for i in range(50)], [wh(f"f{i}") for i in range(50)])
    waste = analyse_waste(content, top=3)
    assert [w.size_bytes for w in waste.top] == [50, 49, 48]
    assert waste.wasted_files == 50
    assert waste.wasted_bytes == sum(range(1, 51))
