"""Real buildx builders (the ``docker-container`` driver) on a private engine, offline, as
../shared/ENGINE.md says: BuildKit v0.32.2's image imported from the shared rootfs, Debian sid's
docker-buildx 0.29.1 (``.ci/buildx``) in a private ``DOCKER_CONFIG``, Engine 29.7's runc."""

from __future__ import annotations

import io
import json
import lzma
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from support import ROOT, need

BUILDKIT_ROOTFS = Path(
    os.environ.get("LAYERSHARE_BUILDKIT", ROOT.parent / "shared/engines/buildkit-v0.32.2-rootfs.tar.xz")
)
BUILDX = ROOT / ".cache" / "engines" / "buildx" / "cli-plugins" / "docker-buildx"
CLI_29 = ROOT / ".cache" / "engines" / "docker-29.7.2" / "docker"  # the bundle's docker CLI
IMAGE = "local/buildkit:v0.32.2"


def buildx_ready(engine: Any) -> None:
    """Import BuildKit's image into ``engine`` and give it a private ``DOCKER_CONFIG`` with buildx
    (``engine.buildx_config``)."""
    need(BUILDX.exists(), "buildx is not unpacked (run .ci/buildx)")
    need(BUILDKIT_ROOTFS.exists(), f"BuildKit's rootfs is not at {BUILDKIT_ROOTFS} (set LAYERSHARE_BUILDKIT)")
    config = Path(tempfile.mkdtemp(prefix="layershare-buildx-"))
    (config / "cli-plugins").mkdir()
    (config / "cli-plugins" / "docker-buildx").symlink_to(BUILDX)
    engine.buildx_config = config
    with lzma.open(BUILDKIT_ROOTFS) as packed:
        rootfs = packed.read()
    docker(
        engine, "import", "--change", 'ENTRYPOINT ["buildkitd"]', "--change", "ENV PATH=/usr/bin:/bin",
        "--change", "VOLUME /var/lib/buildkit", "-", IMAGE, input_bytes=rootfs,
    )  # fmt: skip


def docker(engine: Any, *args: str, input_bytes: bytes | None = None, cwd: str | Path | None = None) -> str:
    """The 29.7 bundle's docker CLI (with buildx) against ``engine``; stdout, or AssertionError."""
    env = {**engine.env(), "DOCKER_CONFIG": str(engine.buildx_config), "BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}
    ran = subprocess.run(
        [str(CLI_29 / "docker"), *args], env=env, input=input_bytes, cwd=cwd, capture_output=True, check=False
    )
    assert ran.returncode == 0, f"docker {' '.join(args)}: {ran.stderr.decode(errors='replace')[-2000:]}"
    return ran.stdout.decode(errors="replace")


def make_builder(engine: Any, name: str, *, flags: str = "", config: str | None = None) -> str:
    """``docker buildx create`` a docker-container builder ``name`` (buildkitd ``flags``, a ``config``
    TOML) and boot it; its container's name."""
    args = ["buildx", "create", "--name", name, "--driver", "docker-container",
            "--driver-opt", f"image={IMAGE},network=host",
            "--buildkitd-flags", f"--oci-worker-net=host {flags}".strip()]  # fmt: skip
    if config is not None:
        path = Path(engine.buildx_config, f"{name}.toml")
        path.write_text(config)
        args += ["--buildkitd-config", str(path)]
    docker(engine, *args, "--bootstrap")
    return f"buildx_buildkit_{name}0"


def build(
    engine: Any, builder: str, dockerfile: str, files: dict[str, bytes] | None = None, *, load: str = ""
) -> None:
    """``docker buildx build`` a context holding busybox under ``rootfs/`` (``FROM scratch`` + ``COPY
    rootfs/ /`` is a base) and ``files``; cache only, or ``--load`` as tag ``load``."""
    from corpus import busybox_rootfs

    with tempfile.TemporaryDirectory() as ctx:
        with tarfile.open(fileobj=io.BytesIO(busybox_rootfs({}))) as tar:
            tar.extractall(Path(ctx, "rootfs"), filter="tar")
        for name, data in (files or {}).items():
            Path(ctx, name).write_bytes(data)
        Path(ctx, "Dockerfile").write_text(dockerfile)
        output = ["--load", "-t", load] if load else ["--output", "type=cacheonly"]
        docker(engine, "buildx", "build", "--builder", builder, *output, ctx)


def settle(engine: Any, volumes: list[str], seconds: float = 60.0) -> None:
    """Wait until the builders' state volumes stop changing: after a build BuildKit still writes its
    history and releases what the build leased, for a second or two."""
    import time

    deadline = time.monotonic() + seconds
    before = None
    while time.monotonic() < deadline:
        now = [volume_size(engine, v) for v in volumes]
        if now == before:
            return
        before = now
        time.sleep(2)
    raise AssertionError(f"the builders' volumes kept changing for {seconds:.0f} s")


def du(engine: Any, container: str) -> list[dict[str, Any]]:
    """``buildctl du --format json``: the builder's records as BuildKit lists them."""
    listed: list[dict[str, Any]] = json.loads(
        docker(engine, "exec", container, "buildctl", "du", "--format", "json")
    )
    return listed or []


def gc_policy(engine: Any, container: str) -> list[dict[str, Any]]:
    """The GC policy the running buildkitd reports (``buildctl debug workers``), as buildx inspect shows it."""
    workers = json.loads(
        docker(engine, "exec", container, "buildctl", "debug", "workers", "--format", "{{json .}}")
    )
    policy: list[dict[str, Any]] = workers[0].get("gcPolicy") or []
    return policy


def volume_size(engine: Any, volume: str) -> int:
    """The engine's size of a volume (``docker system df -v``)."""
    from engines import system_df

    return int(next(v for v in system_df(engine)["Volumes"] if v["Name"] == volume)["UsageData"]["Size"])
