"""Build the example images layershare's demo and tests run on.

Nothing can be pulled, so every image is made here: bases imported from a
busybox rootfs, images built with the classic builder from ``Dockerfile``s
written below, and BuildKit-style images loaded from an archive this module
writes itself (``docker load``). The set covers what the report must get right:
two bases and drifted versions of one, apps sharing a base, an app on another
app, the same file on two bases, zero-byte layers and no-op RUNs, a file
written then deleted, a path overwritten, a base with waste of its own, a base
file deleted on top, a bloated base, a base tag rebuilt under an image,
BuildKit history, a multi-tag image, a dangling image and a stopped container.

    python examples/corpus.py        # builds into the engine DOCKER_HOST names
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Docker = Callable[..., str]

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
APPLETS = ("sh", "ls", "rm", "dd", "mkdir", "cat", "echo", "true", "cp", "touch")


def _blob(size: int, seed: str) -> bytes:
    """``size`` deterministic, incompressible-looking bytes."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _tar(files: dict[str, bytes], dirs: Sequence[str] = ()) -> bytes:
    """A deterministic tar of ``files`` (path -> content) and empty ``dirs``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def busybox_rootfs(extra: dict[str, bytes]) -> bytes:
    """A rootfs tar: static busybox, applet links, and ``extra`` files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for path, content in sorted(extra.items()):
            info = tarfile.TarInfo(path)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@dataclass
class ArchiveImage:
    """One image of a ``docker load`` archive: its layers and BuildKit-style history."""

    tags: list[str]
    # (created_by, layer tar or None for an empty_layer entry)
    steps: list[tuple[str, bytes | None]]
    labels: dict[str, str] = field(default_factory=dict)


def write_load_archive(images: Sequence[ArchiveImage], path: Path) -> None:
    """Write a classic ``docker save`` layout archive that ``docker load`` accepts."""
    manifest = []
    with tarfile.open(path, "w") as tar:
        written: set[str] = set()

        def add(name: str, content: bytes) -> None:
            if name in written:
                return
            written.add(name)
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))

        for image in images:
            diff_ids, layer_paths, history = [], [], []
            for n, (created_by, layer) in enumerate(image.steps):
                entry: dict[str, object] = {
                    "created": f"2026-01-01T00:00:{n:02d}Z",
                    "created_by": created_by,
                    "comment": "buildkit.dockerfile.v0",
                }
                if layer is None:
                    entry["empty_layer"] = True
                else:
                    digest = hashlib.sha256(layer).hexdigest()
                    diff_ids.append(f"sha256:{digest}")
                    layer_paths.append(f"{digest}/layer.tar")
                    add(f"{digest}/layer.tar", layer)
                history.append(entry)
            config = {
                "architecture": "amd64",
                "os": "linux",
                "created": "2026-01-01T00:01:00Z",
                "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "Labels": image.labels or None},
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": history,
            }
            config_bytes = json.dumps(config, sort_keys=True).encode()
            config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
            add(config_name, config_bytes)
            manifest.append({"Config": config_name, "RepoTags": image.tags, "Layers": layer_paths})
        add("manifest.json", json.dumps(manifest).encode())


def buildkit_images() -> list[ArchiveImage]:
    """BuildKit-style images: a base, an app on it, and one whose zero-byte layer the API leaves open."""
    base_layer = busybox_rootfs({"etc/os-release": b"ID=bk\n", "usr/lib/bk.so": _blob(150_000, "bk-base")})
    base_steps: list[tuple[str, bytes | None]] = [
        ("ADD rootfs.tar / # buildkit", base_layer),
        ('CMD ["sh"]', None),
    ]
    app_steps = [
        *base_steps,
        ("ENV SERVICE_PASSWORD=hunter2", None),
        ("WORKDIR /srv", _tar({}, dirs=["srv/"])),
        ("COPY server.js /srv/ # buildkit", _tar({"srv/server.js": _blob(40_000, "server.js")})),
        ("RUN /bin/sh -c true # buildkit", None),
        (
            "RUN |1 NPM_TOKEN=abc123 /bin/sh -c mkdir -p /srv/cache # buildkit",
            _tar({}, dirs=["srv/cache/"]),
        ),
        ("LABEL org.example.team=payments", None),
        ("COPY config.json /srv/ # buildkit", _tar({"srv/config.json": _blob(700, "config")})),
    ]
    lone_steps: list[tuple[str, bytes | None]] = [
        ("ADD rootfs.tar / # buildkit", busybox_rootfs({"etc/os-release": b"ID=lone\n"})),
        ("RUN /bin/sh -c mkdir -p /data # buildkit", _tar({}, dirs=["data/"])),
        ("ENV MODE=prod", None),
        ("COPY small.txt / # buildkit", _tar({"small.txt": b"0123456789"})),
        ("RUN /bin/sh -c true # buildkit", None),
    ]
    return [
        ArchiveImage(["bk-base:1"], base_steps),
        ArchiveImage(["bk-app:1"], app_steps, {"org.opencontainers.image.base.name": "bk-base:1"}),
        ArchiveImage(["bk-ambiguous:1"], lone_steps),
    ]


def write_multi_platform_archive(path: Path, tag: str = "multi:1", *, attestation: bool = False) -> str:
    """An OCI layout archive of a two-platform image whose arm64 half was never pulled.

    Only the linux/amd64 manifest, config and layer are in it, as on a host
    that pulled one platform; returns the index digest (the image ID on the
    containerd store). ``attestation`` adds BuildKit's attestation manifest
    for the amd64 half (``unknown/unknown``, an in-toto layer), as
    ``docker buildx build`` writes by default.
    """
    layer = _tar({"etc/mp-release": b"multi\n", "data.bin": _blob(40_000, "multi")})
    layer_blob = gzip.compress(layer, mtime=0)
    blobs = {_digest(layer_blob): layer_blob}
    manifests = []
    for arch, present in (("amd64", True), ("arm64", False)):
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
                "history": [{"created_by": "COPY data / # buildkit", "comment": "buildkit.dockerfile.v0"}],
            }
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": _digest(config),
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": _digest(layer_blob),
                        "size": len(layer_blob),
                    }
                ],
            }
        ).encode()
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _digest(manifest),
                "size": len(manifest),
                "platform": {"os": "linux", "architecture": arch},
            }
        )
        if present:
            blobs[_digest(config)] = config
            blobs[_digest(manifest)] = manifest
    if attestation:
        manifests.append(_attestation(manifests[0]["digest"], blobs))
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    ).encode()
    blobs[_digest(index)] = index
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": _digest(index),
                "size": len(index),
                "annotations": {"io.containerd.image.name": f"docker.io/library/{tag}"},
            }
        ],
    }
    with tarfile.open(path, "w") as tar:
        for name, content in [
            ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
            ("index.json", json.dumps(top).encode()),
            *((f"blobs/sha256/{d.removeprefix('sha256:')}", b) for d, b in sorted(blobs.items())),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return _digest(index)


def _attestation(subject: str, blobs: dict[str, bytes]) -> dict[str, Any]:
    """BuildKit's attestation manifest for the manifest ``subject`` (its blobs go into ``blobs``), and
    its descriptor in the index."""
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1", "subject": []}).encode()
    config = json.dumps(
        {"architecture": "unknown", "os": "unknown", "config": {},
         "rootfs": {"type": "layers", "diff_ids": [_digest(statement)]}}
    ).encode()  # fmt: skip
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config),
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": _digest(statement),
                        "size": len(statement),
                        "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
        }
    ).encode()  # fmt: skip
    for content in (statement, config, manifest):
        blobs[_digest(content)] = content
    return {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": _digest(manifest),
        "size": len(manifest),
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {
            "vnd.docker.reference.digest": subject,
            "vnd.docker.reference.type": "attestation-manifest",
        },
    }


def _digest(content: bytes) -> str:
    return f"sha256:{hashlib.sha256(content).hexdigest()}"


# name -> (Dockerfile, files in the build context)
DOCKERFILES: list[tuple[str, str, dict[str, bytes]]] = [
    (
        "runtime:2",
        "FROM distro-a:1\nRUN dd if=/dev/urandom of=/opt.lib bs=1000 count=300\nENV RUNTIME_VERSION=2\n",
        {},
    ),
    (
        "runtime:3",
        "FROM distro-a:2\nRUN dd if=/dev/urandom of=/opt.lib bs=1000 count=310\nENV RUNTIME_VERSION=3\n",
        {},
    ),
    (
        "app-one:1",
        "FROM runtime:3\nWORKDIR /app\nCOPY app.sh /app/\nRUN mkdir -p /app/data\nRUN true\n"
        "ENV API_TOKEN=s3cr3t-value\nARG BUILD_SECRET=dont-print-me\nRUN echo built > /app/stamp\n"
        'LABEL org.opencontainers.image.base.name=runtime:3\nCMD ["sh", "/app/app.sh"]\n',
        {"app.sh": _blob(12_000, "app-one")},
    ),
    (
        "app-two:1",
        "FROM runtime:3\nCOPY app.sh /app/\nRUN dd if=/dev/urandom of=/big bs=1000 count=250\n"
        'RUN rm /big\nCMD ["sh"]\n',
        {"app.sh": _blob(9_000, "app-two")},
    ),
    (
        "app-plus:1",
        "FROM app-one:1\nCOPY plugin.bin /app/\n",
        {"plugin.bin": _blob(33_000, "plugin")},
    ),
    ("same-on-a:1", "FROM distro-a:1\nCOPY same.bin /\n", {"same.bin": _blob(64_000, "same")}),
    ("same-on-b:1", "FROM distro-b:1\nCOPY same.bin /\n", {"same.bin": _blob(64_000, "same")}),
    ("legacy-app:1", "FROM runtime:2\nCOPY app.sh /app/\n", {"app.sh": _blob(8_000, "legacy")}),
    ("fat-app:1", "FROM fat-base:1\nCOPY app.sh /app/\n", {"app.sh": _blob(5_000, "fat-app")}),
    (
        "overwrite:1",
        "FROM distro-b:1\nRUN dd if=/dev/urandom of=/data.bin bs=1000 count=100\n"
        "RUN dd if=/dev/urandom of=/data.bin bs=1000 count=120\n"
        "RUN dd if=/dev/urandom of=/data.bin bs=1000 count=80\n",
        {},
    ),
    ("trim-app:1", "FROM distro-b:1\nRUN rm -r /usr/share/doc\n", {}),
    (
        "waste-base:1",
        "FROM distro-a:2\nRUN dd if=/dev/urandom of=/cache.tmp bs=1000 count=200\nRUN rm /cache.tmp\n",
        {},
    ),
    ("on-waste-base:1", "FROM waste-base:1\nCOPY app.sh /app/\n", {"app.sh": _blob(6_000, "on-waste")}),
    ("rebuilt-base:1", "FROM distro-b:1\nRUN echo v1 > /version\n", {}),
    (
        "on-rebuilt:1",
        "FROM rebuilt-base:1\nCOPY app.sh /app/\nLABEL org.opencontainers.image.base.name=rebuilt-base:1\n",
        {"app.sh": _blob(7_000, "on-rebuilt")},
    ),
    ("rebuilt-base:1", "FROM distro-b:1\nRUN echo v2 > /version\n", {}),
    ("scratchpad:1", "FROM distro-b:1\nRUN echo first > /v\n", {}),
    ("scratchpad:1", "FROM distro-b:1\nRUN echo second > /v\n", {}),
]

BASES = {
    "distro-a:1": {"etc/os-release": b"ID=a\nVERSION=1\n", "usr/lib/liba.so": _blob(120_000, "a1")},
    "distro-a:2": {"etc/os-release": b"ID=a\nVERSION=2\n", "usr/lib/liba.so": _blob(125_000, "a2")},
    "distro-b:1": {"etc/os-release": b"ID=b\n", "usr/share/doc/b.txt": _blob(200_000, "b1")},
    "fat-base:1": {"etc/os-release": b"ID=fat\n", "usr/lib/fat.so": _blob(3_000_000, "fat")},
}


def build_corpus(docker: Docker) -> None:
    """Build every example image with ``docker(*args, input_bytes=..., cwd=...)``."""
    with tempfile.TemporaryDirectory(prefix="layershare-corpus-") as tmp:
        work = Path(tmp)
        for tag, files in BASES.items():
            docker("import", "-", tag, input_bytes=busybox_rootfs(files))
        for tag, dockerfile, files in DOCKERFILES:
            context = work / f"ctx-{hashlib.sha256(dockerfile.encode()).hexdigest()[:8]}"
            context.mkdir()
            (context / "Dockerfile").write_text(dockerfile)
            for name, content in files.items():
                (context / name).write_bytes(content)
                # COPY keeps mtimes: fix them so the same file makes the same diff ID.
                os.utime(context / name, (1_700_000_000, 1_700_000_000))
            docker("build", "-q", "-t", tag, str(context))
        docker("tag", "app-one:1", "app-one:latest")
        archive = work / "buildkit.tar"
        write_load_archive(buildkit_images(), archive)
        docker("load", "-q", "-i", str(archive))
        docker("create", "--name", "stopped-app", "--network", "none", "app-two:1", "true")


def _cli_docker(*args: str, input_bytes: bytes | None = None, cwd: str | Path | None = None) -> str:
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    result = subprocess.run(
        ["docker", *args], input=input_bytes, cwd=cwd, env=env, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode()


if __name__ == "__main__":
    build_corpus(_cli_docker)
    print("example images built", file=sys.stderr)
