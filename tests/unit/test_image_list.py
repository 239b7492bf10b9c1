"""The containerd store's image list made from containerd's records, by moby's ``image_list.go`` rules
at docker-v29.7.2 (each expectation below is worked out from those rules by hand; the engine test
``test_the_image_list_from_containerds_records_is_the_engines`` checks them against Engine 29.7)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from layershare.ids import chain_ids
from layershare.sources.references import canonical, familiar
from layershare.sources.stores.containerd_meta import SnapshotRecord, chain_usage
from layershare.sources.stores.image_list import (
    Descriptor,
    ImageName,
    Store,
    Unsure,
    summaries,
)
from layershare.times import unix_seconds

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class Blobs:
    """Documents by digest, and which of them the store holds."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.held: set[str] = set()

    def add(self, document: Any, *, held: bool = True) -> tuple[str, int]:
        raw = json.dumps(document)
        found = digest(raw)
        self.documents[found] = document
        if held:
            self.held.add(found)
        return found, len(raw)

    def image(
        self, arch: str, diff_ids: list[str], created: str, *, held: bool = True, layers_held: bool = True
    ) -> dict[str, Any]:
        """A manifest with its config and one layer blob per diff ID; its descriptor."""
        config, config_size = self.add(
            {"architecture": arch, "os": "linux", "created": created, "config": {"Labels": {"arch": arch}},
             "rootfs": {"type": "layers", "diff_ids": diff_ids}},
            held=held,
        )  # fmt: skip
        layers = []
        for n, diff_id in enumerate(diff_ids):
            layer = digest(f"blob of {diff_id}")
            if held and layers_held:
                self.held.add(layer)
            layers.append({"mediaType": LAYER, "digest": layer, "size": 1000 * (n + 1)})
        manifest, size = self.add(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": layers,
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                        "size": config_size}},
            held=held,
        )  # fmt: skip
        return {"mediaType": OCI_MANIFEST, "digest": manifest, "size": size}

    def store(self, usage: dict[str, int]) -> Store:
        def document(found: str) -> Any:
            return self.documents[found]

        return Store(frozenset(self.held), document, lambda chain: usage.get(chain, 0), ("linux", "amd64"))

    def size(self, descriptor: dict[str, Any], *, held_only: bool = True) -> int:
        """A manifest's own size and its config's and layers' (those held)."""
        manifest = self.documents[descriptor["digest"]]
        children = [manifest["config"], *manifest["layers"]]
        return descriptor["size"] + sum(
            c["size"] for c in children if not held_only or c["digest"] in self.held
        )


def name(text: str, target: dict[str, Any], **labels: str) -> ImageName:
    return ImageName(text, Descriptor.of(target), labels)


def test_a_two_platform_index_with_one_platform_and_an_attestation() -> None:
    """Size adds each manifest's present content and each image manifest's unpacked chain; the arm64
    half that was never pulled is an unavailable image manifest of no size; the attestation is
    counted as content, never unpacked; Created is the host platform's config, though it comes second."""
    blobs = Blobs()
    arm = blobs.image("arm64", ["sha256:" + "a" * 64], "2024-05-01T00:00:00Z", held=False)
    amd = blobs.image("amd64", ["sha256:" + "b" * 64, "sha256:" + "c" * 64], "2024-06-01T12:00:00.9Z")
    attestation = {**blobs.image("unknown", ["sha256:" + "d" * 64], "2024-06-01T12:00:00Z"),
                   "platform": {"os": "unknown", "architecture": "unknown"},
                   "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                   "vnd.docker.reference.digest": amd["digest"]}}  # fmt: skip
    index, index_size = blobs.add(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {**arm, "platform": {"os": "linux", "architecture": "arm64"}},
            {**amd, "platform": {"os": "linux", "architecture": "amd64"}},
            attestation,
        ]}
    )  # fmt: skip
    unpacked = {chain_ids(["sha256:" + "b" * 64, "sha256:" + "c" * 64])[-1]: 7000, "sha256:" + "d" * 64: 99}
    target = {"mediaType": OCI_INDEX, "digest": index, "size": index_size}
    [summary] = summaries(
        [name("docker.io/library/multi:1", target), name("docker.io/team/multi:2", target)],
        blobs.store(unpacked),
    )
    amd_content, attestation_content = blobs.size(amd), blobs.size(attestation)
    assert [(m["Kind"], m["Available"], m["Size"]) for m in summary["Manifests"]] == [
        ("image", False, {"Content": 0, "Total": 0}),
        ("image", True, {"Content": amd_content, "Total": amd_content + 7000}),
        ("attestation", True, {"Content": attestation_content, "Total": attestation_content}),
    ]
    assert summary["Size"] == amd_content + 7000 + attestation_content  # the index blob itself is not
    assert summary["Created"] == 1717243200  # 12:00:00.9 is 12:00:00's second
    assert summary["Labels"] == {"arch": "amd64"}
    assert summary["RepoTags"] == ["multi:1", "team/multi:2"]
    assert summary["RepoDigests"] == [f"team/multi@{index}"]  # the last name's repository


def test_dangling_records_and_missing_layers() -> None:
    """A dangling record counts only where no name points at its digest (no tags, no repo digests);
    a manifest whose layer is not held is not available, and the layer adds no content."""
    blobs = Blobs()
    kept = blobs.image("amd64", ["sha256:" + "e" * 64], "2024-01-01T00:00:00+02:00")
    loose = blobs.image("amd64", ["sha256:" + "f" * 64], "2023-01-01T00:00:00Z", layers_held=False)
    listed = summaries(
        [
            name("docker.io/library/kept:1", kept, **{"org.mobyproject.image.parent": "sha256:" + "1" * 64}),
            name(f"moby-dangling@{kept['digest']}", kept),
            name(f"moby-dangling@{loose['digest']}", loose),
        ],
        blobs.store({}),
    )
    assert [s["Id"] for s in listed] == [kept["digest"], loose["digest"]]  # newest first
    first, second = listed
    assert (first["RepoTags"], first["RepoDigests"]) == (["kept:1"], [f"kept@{kept['digest']}"])
    assert first["ParentId"] == "sha256:" + "1" * 64 and first["Created"] == 1704060000
    assert (second["RepoTags"], second["RepoDigests"], second["ParentId"]) == ([], [], "")
    assert second["Manifests"][0]["Available"] is False
    assert second["Size"] == blobs.size(loose) < blobs.size(loose, held_only=False)


def test_what_is_not_certain_asks_the_engine() -> None:
    """A name the engine would show as it is, or a choice between two variants of the host's
    architecture (which hangs on the CPU), is not guessed."""
    blobs = Blobs()
    plain = blobs.image("amd64", ["sha256:" + "1" * 64], "2024-01-01T00:00:00Z")
    with pytest.raises(ValueError):
        summaries([name("app:1", plain)], blobs.store({}))
    v1 = {**blobs.image("amd64", ["sha256:" + "2" * 64], "2024-01-01T00:00:00Z"),
          "platform": {"os": "linux", "architecture": "amd64"}}  # fmt: skip
    v3 = {**blobs.image("amd64", ["sha256:" + "3" * 64], "2024-01-01T00:00:00Z"),
          "platform": {"os": "linux", "architecture": "amd64", "variant": "v3"}}  # fmt: skip
    index, size = blobs.add({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [v1, v3]})
    with pytest.raises(Unsure):
        summaries([name("docker.io/library/v:1", {"mediaType": OCI_INDEX, "digest": index, "size": size})],
                  blobs.store({}))  # fmt: skip


def test_a_chains_usage_is_its_snapshot_and_every_parent() -> None:
    """As moby's ``calculateSnapshotTotalUsage`` walks it; a chain one of whose parents is gone is 0
    (the engine's NotFound), and chains that share parents are each counted whole."""
    records = {
        b"top": {b"name": b"moby/3/top", b"parent": b"mid"},
        b"mid": {b"name": b"moby/2/mid", b"parent": b"base"},
        b"base": {b"name": b"moby/1/base"},
        b"other": {b"name": b"moby/4/other", b"parent": b"mid"},
        b"orphan": {b"name": b"moby/5/orphan", b"parent": b"gone"},
    }
    backend = {
        f"moby/{n}/{key}": SnapshotRecord(f"moby/{n}/{key}", n, True, None, size)
        for n, key, size in (
            (1, "base", 100),
            (2, "mid", 20),
            (3, "top", 3),
            (4, "other", 4000),
            (5, "orphan", 5),
        )
    }
    usage = chain_usage(records, backend)  # type: ignore[arg-type]
    assert (usage("top"), usage("other"), usage("mid"), usage("orphan"), usage("none")) == (
        123,
        4120,
        120,
        0,
        0,
    )


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("docker.io/library/app:1", "app:1"),
        ("docker.io/team/app:1", "team/app:1"),
        ("docker.io/library/app@sha256:" + "0" * 64, "app@sha256:" + "0" * 64),
        ("ghcr.io/org/app:2", "ghcr.io/org/app:2"),
        ("localhost:5000/app:3", "localhost:5000/app:3"),
    ],
)
def test_canonical_names_and_their_short_form(stored: str, shown: str) -> None:
    repository, rest = canonical(stored)
    assert repository + rest == stored and familiar(stored) == shown


@pytest.mark.parametrize(
    "stored", ["app:1", "docker.io/app:1", "index.docker.io/library/app:1", "docker.io/library/App:1"]
)
def test_names_not_in_canonical_form(stored: str) -> None:
    with pytest.raises(ValueError):
        canonical(stored)


def test_unix_seconds_are_gos() -> None:
    assert unix_seconds("1970-01-01T00:00:01.999999999Z") == 1
    assert unix_seconds("1969-12-31T23:59:59.5Z") == -1  # toward the past, as Go's Unix()
    assert unix_seconds("2024-01-01T02:00:00+02:00") == 1704067200
    with pytest.raises(ValueError):
        unix_seconds("2024-01-01T00:00:00")


@pytest.mark.parametrize(
    "config",
    [{"config": "not an object"}, {"rootfs": ["not", "an", "object"]}, {"rootfs": {"diff_ids": "x"}},
     {"created": "yesterday"}],
)  # fmt: skip
def test_a_config_that_does_not_parse_asks_the_engine(config: dict[str, Any]) -> None:
    """A malformed image config is never guessed at (nor a traceback): the engine is asked."""
    blobs = Blobs()
    found, size = blobs.add({"architecture": "amd64", "os": "linux", **config})
    manifest, manifest_size = blobs.add(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": found, "size": size}}
    )  # fmt: skip
    target = {"mediaType": OCI_MANIFEST, "digest": manifest, "size": manifest_size}
    with pytest.raises(Unsure):
        summaries([name("docker.io/library/bad:1", target)], blobs.store({}))
