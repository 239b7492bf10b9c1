"""The streaming archive reader: both layouts, compressed layers, hostile archives refused."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard
from corpus import ArchiveImage, _tar, write_load_archive

from layershare.errors import ArchiveError
from layershare.sources.archive.layers import read_layer
from layershare.sources.archive.reader import read_archive


def add(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


LAYER_1 = _tar({"etc/os-release": b"ID=x\n", "big.bin": b"x" * 5000}, dirs=["etc/"])
LAYER_2 = _tar({"big.bin": b"y" * 3000, "app/run": b"#!/bin/sh\n"})


def oci_archive(layers: list[bytes], compress: str = "gzip", tag: str = "docker.io/library/app:1") -> bytes:
    """An OCI image layout as Docker 25+ and the containerd store save it (compressed blobs)."""
    buffer = io.BytesIO()
    blobs: dict[str, bytes] = {}
    descriptors = []
    diff_ids = []
    for layer in layers:
        diff_ids.append(f"sha256:{sha(layer)}")
        blob = gzip.compress(layer) if compress == "gzip" else zstandard.ZstdCompressor().compress(layer)
        blobs[sha(blob)] = blob
        descriptors.append(
            {
                "mediaType": f"application/vnd.oci.image.layer.v1.tar+{compress}",
                "digest": f"sha256:{sha(blob)}",
                "size": len(blob),
            }
        )
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": []}).encode()
    blobs[sha(config)] = config
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": {"digest": f"sha256:{sha(config)}", "size": len(config)},
            "layers": descriptors,
        }
    ).encode()
    blobs[sha(manifest)] = manifest
    index = {
        "schemaVersion": 2,
        "manifests": [
            {"digest": f"sha256:{sha(manifest)}", "annotations": {"io.containerd.image.name": tag}}
        ],
    }
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add(tar, "index.json", json.dumps(index).encode())
        for digest, blob in sorted(blobs.items()):
            add(tar, f"blobs/sha256/{digest}", blob)
    return buffer.getvalue()


def test_classic_layout_gives_layers_in_config_order_with_diff_ids(tmp_path: Path) -> None:
    path = tmp_path / "classic.tar"
    write_load_archive(
        [ArchiveImage(["app:1"], [("ADD x", LAYER_1), ("ENV A=1", None), ("COPY y", LAYER_2)])], path
    )
    with path.open("rb") as f:
        (image,) = read_archive(f)
    assert image.layout == "docker"
    assert image.tags == ("app:1",)
    assert image.diff_ids == (f"sha256:{sha(LAYER_1)}", f"sha256:{sha(LAYER_2)}")
    assert [layer.diff_id for layer in image.layers] == list(image.diff_ids)
    assert [layer.size_bytes for layer in image.layers] == [5005, 3010]
    assert {f.path: f.kind for f in image.layers[0].files} == {
        "etc": "dir",
        "etc/os-release": "file",
        "big.bin": "file",
    }


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_oci_layout_with_compressed_layers(compress: str) -> None:
    (image,) = read_archive(io.BytesIO(oci_archive([LAYER_1, LAYER_2], compress)))
    assert image.layout == "oci"
    assert image.tags == ("docker.io/library/app:1",)
    assert image.diff_ids == (f"sha256:{sha(LAYER_1)}", f"sha256:{sha(LAYER_2)}")
    assert [layer.size_bytes for layer in image.layers] == [5005, 3010]


def test_layer_size_counts_files_symlink_targets_and_hard_links_once() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        add(tar, "a", b"12345")
        link = tarfile.TarInfo("b")
        link.type = tarfile.LNKTYPE
        link.linkname = "a"
        tar.addfile(link)
        sym = tarfile.TarInfo("c")
        sym.type = tarfile.SYMTYPE
        sym.linkname = "target/path"
        tar.addfile(sym)
        add(tar, "a", b"123")  # the same path again: the last entry wins
        whiteout = tarfile.TarInfo("dir/.wh.gone")
        tar.addfile(whiteout)
        opaque = tarfile.TarInfo("dir/.wh..wh..opq")
        tar.addfile(opaque)
    data = buffer.getvalue()
    layer = read_layer(io.BytesIO(data), "tar")
    assert layer.diff_id == f"sha256:{sha(data)}"
    assert layer.size_bytes == 3 + len("target/path")
    kinds = {(f.path, f.kind) for f in layer.files}
    assert ("dir/gone", "whiteout") in kinds
    assert ("dir", "opaque") in kinds
    assert ("b", "hardlink") in kinds


def test_an_empty_layer_is_read() -> None:
    empty = _tar({})
    layer = read_layer(io.BytesIO(empty), "tar")
    assert (layer.diff_id, layer.size_bytes, layer.files) == (f"sha256:{sha(empty)}", 0, ())


def hostile(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for member in members:
            if isinstance(member, tuple):
                add(tar, *member)
            else:
                tar.addfile(member)
    buffer.seek(0)
    return buffer


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_hostile_archives_are_refused_with_a_reason(tmp_path: Path) -> None:
    cases: dict[str, tuple[io.BytesIO, str]] = {
        "traversal": (hostile([("../../etc/passwd", b"x")]), "points outside the archive"),
        "absolute": (hostile([("/etc/passwd", b"x")]), "points outside the archive"),
        "symlink out": (
            hostile([link("manifest.json", "../../../etc/passwd")]),
            "points outside the archive",
        ),
        "hard link out": (hostile([link("x", "/etc/shadow", tarfile.LNKTYPE)]), "points outside the archive"),
        "device": (hostile([link("dev", "", tarfile.CHRTYPE)]), "is not a file, folder or link"),
        "not an image": (hostile([("hello.txt", b"hello")]), "neither manifest.json nor index.json"),
        "layer escapes": (
            hostile([("l/layer.tar", _tar({"../../etc/cron.d/x": b"boom"}))]),
            "escapes the image's root",
        ),
        "missing layer": (
            hostile(
                [
                    ("c.json", json.dumps({"rootfs": {"diff_ids": ["sha256:" + "0" * 64]}}).encode()),
                    ("manifest.json", json.dumps([{"Config": "c.json", "Layers": []}]).encode()),
                ]
            ),
            "is not in the archive",
        ),
    }
    for name, (stream, reason) in cases.items():
        with pytest.raises(ArchiveError, match=reason):
            read_archive(stream, name=name)


def test_absurd_sizes_and_truncation_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "ok.tar"
    write_load_archive([ArchiveImage(["app:1"], [("ADD x", LAYER_1)])], path)
    data = path.read_bytes()
    manifest_body = data.index(b'[{"Config"')
    for cut in (len(data) // 3, manifest_body + 20, 700):
        with pytest.raises(ArchiveError, match=r"not a complete image archive|not a readable layer tar"):
            read_archive(io.BytesIO(data[:cut]), name="cut")
    header = tarfile.TarInfo("huge.bin")
    header.size = 1 << 45
    raw = header.tobuf(format=tarfile.GNU_FORMAT)
    with pytest.raises(ArchiveError, match="absurd size"):
        read_archive(io.BytesIO(raw + b"\0" * 4096), name="huge")
    with pytest.raises(ArchiveError):
        read_archive(io.BytesIO(b"\x1f\x8b" + b"garbage" * 100), name="garbage")


def test_a_corrupt_compressed_layer_is_refused() -> None:
    blob = gzip.compress(LAYER_1)
    corrupt = blob[:20] + bytes(b ^ 0xFF for b in blob[20:60]) + blob[60:]
    with pytest.raises(ArchiveError, match="not a readable layer tar"):
        read_archive(hostile([("blobs/sha256/" + sha(corrupt), corrupt)]), name="corrupt")
    zblob = zstandard.ZstdCompressor().compress(LAYER_1)
    with pytest.raises(ArchiveError):
        read_layer(io.BytesIO(zblob[: len(zblob) // 2]), "zstd")
