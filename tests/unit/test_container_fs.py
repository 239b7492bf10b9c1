"""A stopped container's file, read from its layers on disk (graphdriver layout) without the engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from layershare.sources.stores.container_fs import graphdriver_layers, read_file


def overlay2(tmp_path: Path) -> Path:
    """A data root holding one container on overlay2: its writable layer over two image layers."""
    root = tmp_path / "docker"
    mounts = root / "image" / "overlay2" / "layerdb" / "mounts" / "c0ffee"
    mounts.mkdir(parents=True)
    (mounts / "mount-id").write_text("rw1\n")
    layers = root / "overlay2"
    for name, short in (("rw1", "AAA"), ("img2", "BBB"), ("img1", "CCC")):
        (layers / name / "diff" / "etc" / "buildkit").mkdir(parents=True)
        (layers / "l").mkdir(exist_ok=True)
        (layers / "l" / short).symlink_to(f"../{name}/diff")
    (layers / "rw1" / "lower").write_text("l/BBB:l/CCC")
    return root


def test_the_writable_layer_first_then_the_lower_ones_in_order(tmp_path: Path) -> None:
    root = overlay2(tmp_path)
    layers = graphdriver_layers(str(root), "overlay2", "c0ffee")
    assert [p.resolve() for p in layers] == [
        (root / "overlay2" / n / "diff").resolve() for n in ("rw1", "img2", "img1")
    ]
    toml = "etc/buildkit/buildkitd.toml"
    assert read_file(layers, "/" + toml) is None
    (root / "overlay2" / "img1" / "diff" / toml).write_text("from the image")
    assert read_file(layers, "/" + toml) == "from the image"
    (root / "overlay2" / "rw1" / "diff" / toml).write_text("copied in by buildx")
    assert read_file(layers, "/" + toml) == "copied in by buildx"
    assert read_file(layers, "/etc/../etc/buildkit/buildkitd.toml") is None  # no climbing out


def test_an_unknown_container_has_no_layers(tmp_path: Path) -> None:
    assert graphdriver_layers(str(overlay2(tmp_path)), "overlay2", "other") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="a whiteout is a character device: mknod needs root")
def test_a_whiteout_hides_the_file_below(tmp_path: Path) -> None:
    root = overlay2(tmp_path)
    toml = "etc/buildkit/buildkitd.toml"
    (root / "overlay2" / "img1" / "diff" / toml).write_text("removed later")
    os.mknod(root / "overlay2" / "rw1" / "diff" / toml, 0o600 | 0o020000, os.makedev(0, 0))
    assert read_file(graphdriver_layers(str(root), "overlay2", "c0ffee"), toml) is None
