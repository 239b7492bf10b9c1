"""``--archive``: images read from docker save archives weigh what the engine stores once they are loaded."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from engines import layer_store, system_df
from support import cli as in_process

from layershare.cli import ExitCode

pytestmark = pytest.mark.engine

TAGS = ["app-one:1", "app-two:1", "overwrite:1", "trim-app:1", "bk-app:1", "bk-ambiguous:1", "fat-app:1"]


layershare = in_process


def archive_report(*paths: Path) -> dict[str, Any]:
    args = [a for p in paths for a in ("--archive", str(p))]
    result = layershare("report", *args, "--format", "json", "--all")
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture(scope="module")
def saved(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("saved") / "corpus.tar"
    engine.docker("save", "-o", str(path), *TAGS)
    return path


def test_an_archive_weighs_what_the_engine_stores(engine: Any, saved: Path) -> None:
    doc = archive_report(saved)
    store = layer_store(engine)
    assert doc["layers"], "no layers read"
    for layer in doc["layers"]:
        assert layer["size_bytes"] == store[layer["chain_id"]], layer["created_by"]
        assert layer["exact"] is True
    df = {i["Id"]: i for i in system_df(engine)["Images"]}
    images = {i["id"]: i for i in doc["images"]}
    assert {t for i in images.values() for t in i["tags"]} == set(TAGS)
    for image_id, image in images.items():  # graphdriver image IDs are config digests: the same images
        assert image["size_bytes"] == df[image_id]["Size"], image["tags"]


def test_compressed_archives_and_an_oci_layout_folder(engine26: Any, saved: Path, tmp_path: Path) -> None:
    truth = archive_report(saved)
    gz = tmp_path / "corpus.tar.gz"
    gz.write_bytes(gzip.compress(saved.read_bytes()))
    zst = tmp_path / "corpus.tar.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(saved.read_bytes()))
    for packed in (gz, zst):
        doc = archive_report(packed)
        assert doc["images"] == truth["images"]
        assert doc["layers"] == truth["layers"]
    # Engine 26.1 with the containerd store saves the OCI layout with gzip layers
    oci = tmp_path / "oci.tar"
    engine26.docker("save", "-o", str(oci), "bk-app:1", "bk-base:1", "bk-ambiguous:1")
    with tarfile.open(oci) as tar:
        assert "oci-layout" in tar.getnames()
        folder = tmp_path / "layout"
        tar.extractall(folder, filter="data")
    from_file, from_folder = archive_report(oci), archive_report(folder)
    assert from_file["layers"] == from_folder["layers"]
    # the loaded BuildKit images are byte-identical on both engines: same layers, same sizes
    by_chain = {layer["chain_id"]: layer["size_bytes"] for layer in truth["layers"]}
    shared = [layer for layer in from_file["layers"] if layer["chain_id"] in by_chain]
    assert len(shared) == len(from_file["layers"]) >= 5
    assert all(layer["size_bytes"] == by_chain[layer["chain_id"]] for layer in shared)


def test_check_gates_an_archive_without_an_engine(saved: Path, tmp_path: Path) -> None:
    result = layershare(
        "check", "--archive", str(saved), "overwrite:1", "--rule", "max-wasted-bytes=200kB", "-f", "json",
        env={"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
    )  # fmt: skip
    assert result.returncode == ExitCode.CHECK_FAILED, result.stderr
    doc = json.loads(result.stdout)
    failed = [r for r in doc["results"] if r["status"] == "fail"]
    assert [(r["rule"], r["value"]) for r in failed] == [("max-wasted-bytes", 220_000)]


def test_a_hostile_archive_is_one_line_and_code_7(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../../etc/cron.d/evil")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"boom"))
    for path in (evil, tmp_path / "missing.tar"):
        result = layershare("report", "--archive", str(path))
        assert result.returncode == ExitCode.BAD_INPUT
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("layershare: error: ")
    assert not (tmp_path.parent.parent / "etc" / "cron.d" / "evil").exists()
