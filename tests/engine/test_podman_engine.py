"""Podman's Docker-compatible API (podman 4.3, Debian 12): the collector works; what differs is shown."""

from __future__ import annotations

import json
from typing import Any

import docker
import pytest
from engines import cli

pytestmark = pytest.mark.engine


def test_the_report_works_against_podman(podman: Any) -> None:
    result = cli(podman, "report", "--format", "json", "--no-cache")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    api = docker.APIClient(base_url=podman.host, version="auto")
    images = {i["tags"][0]: i for i in doc["images"]}
    assert set(images) == {"localhost/bk-base:1", "localhost/bk-app:1", "localhost/bk-ambiguous:1"}
    # Layer sizes are podman's own (its history lists each layer's uncompressed tar size).
    sizes = {}
    for tag in images:
        history = [h["Size"] for h in reversed(api.history(tag)) if h["Size"]]
        chain = [layer for layer in doc["layers"] if layer["chain_id"] in _chain(podman, tag)]
        assert sorted(layer["size_bytes"] for layer in chain if layer["size_bytes"]) == sorted(history)
        sizes.update({layer["chain_id"]: layer["size_bytes"] for layer in chain})
    assert doc["totals"]["physical_bytes"] == sum(sizes.values())
    # bk-app is built on bk-base: layershare sees the shared base layer ...
    base = images["localhost/bk-base:1"]
    assert images["localhost/bk-app:1"]["shared_bytes"] == base["stored_bytes"] > 0
    # ... where podman's /system/df reports nothing shared at all (and no layer total)
    df = api.df()
    assert all(i["SharedSize"] == 0 for i in df["Images"]) and not df.get("LayersSize")


def _chain(engine: Any, tag: str) -> set[str]:
    from layershare.ids import chain_ids

    layers = docker.APIClient(base_url=engine.host, version="auto").inspect_image(tag)["RootFS"]["Layers"]
    return set(chain_ids(layers))
