"""Engine state for the removal tests: images that share layers, a parent chain, tags, users, cache."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def build(engine: Any, tag: str, dockerfile: str, *, buildkit: bool = False) -> None:
    """Build ``dockerfile`` as ``tag`` (the classic builder, or BuildKit with Debian's 20.10 CLI)."""
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(dockerfile)
        if buildkit:
            env = dict(engine.env(), DOCKER_BUILDKIT="1")
            subprocess.run(
                ["/usr/bin/docker", "build", "--network=none", "-q", "-t", tag, ctx],
                env=env, capture_output=True, check=True,
            )  # fmt: skip
        else:
            engine.docker("build", "-q", "-t", tag, ctx)


def random_file(path: str, kilobytes: int) -> str:
    return f"RUN dd if=/dev/urandom of={path} bs=1000 count={kilobytes} 2>/dev/null\n"


def build_free_state(engine: Any) -> None:
    """Images for the selections: a group sharing an untagged layer, a base other apps stand on,
    a multi-tag image, an image a container uses, a repository with three versions."""
    shared = "FROM distro-a:1\n" + random_file("/shared.bin", 150)
    build(engine, "grp-a:1", shared + random_file("/a.bin", 20))
    build(engine, "grp-b:1", shared + random_file("/b.bin", 30))  # the classic builder reuses the layer
    build(engine, "base-x:1", "FROM distro-b:1\n" + random_file("/base.bin", 120))
    build(engine, "on-x-one:1", "FROM base-x:1\n" + random_file("/one.bin", 40))
    build(engine, "on-x-two:1", "FROM base-x:1\n" + random_file("/two.bin", 50))
    build(engine, "multi:1", "FROM distro-b:1\n" + random_file("/multi.bin", 60))
    engine.docker("tag", "multi:1", "multi:latest")
    engine.docker("tag", "multi:1", "other-repo/multi:2")
    build(engine, "used:1", "FROM distro-b:1\n" + random_file("/used.bin", 70))
    engine.docker("create", "--name", "user-of-used", "--network", "none", "used:1", "true")
    for n in (1, 2, 3):
        build(engine, f"versions:{n}", "FROM distro-a:1\n" + random_file(f"/v{n}.bin", 10 + n))
        time.sleep(1.1)  # creation times in whole seconds: each version its own


def replenish(engine: Any, n: int) -> None:
    """Something for every prune to take: a stopped container that wrote, a dangling image, an
    anonymous and a named unused volume, BuildKit cache (a cache mount and a layer)."""
    from corpus import busybox_rootfs

    base = f"fresh-base:{n}"  # its own base: an earlier prune may have taken every other image
    engine.docker("import", "-", base, input_bytes=busybox_rootfs({"etc/os-release": f"ID={n}\n".encode()}))
    run = ["run", "--network", "none"]
    engine.docker(
        *run, "--name", f"stopped-{n}", "-v", f"/anon{n}", base, "sh", "-c",
        f"dd if=/dev/urandom of=/w{n} bs=1000 count=50 2>/dev/null; "
        f"dd if=/dev/urandom of=/anon{n}/x bs=1000 count=25 2>/dev/null",
    )  # fmt: skip
    engine.docker(
        *run, "--rm", "-v", f"named-{n}:/d", base, "sh", "-c",
        "dd if=/dev/urandom of=/d/x bs=1000 count=35 2>/dev/null",
    )  # fmt: skip
    engine.docker("create", "--name", f"gone-{n}", "-v", f"/left{n}", base, "true")
    engine.docker("rm", f"gone-{n}")  # leaves its anonymous volume behind, unused
    build(engine, f"dangle-{n}:1", f"FROM {base}\n" + random_file("/first.bin", 15))
    build(engine, f"dangle-{n}:1", f"FROM {base}\n" + random_file("/second.bin", 16))
    build(
        engine,
        f"bk-{n}:1",
        f"FROM {base}\nRUN --mount=type=cache,target=/cache dd if=/dev/urandom of=/cache/c.bin "
        f"bs=1000 count={100 + n} 2>/dev/null && echo {n} > /built\n",
        buildkit=True,
    )
    settle(engine)


def settle(engine: Any, quiet_for: float = 3.5) -> None:
    """Wait until the data root stops changing: BuildKit writes its build history (a trace blob on the
    containerd store) seconds after a build returns."""
    from engines import df_total
    from test_free_engine import data_bytes

    last, since = (df_total(engine), data_bytes(engine)), time.monotonic()
    deadline = since + 60
    while time.monotonic() - since < quiet_for and time.monotonic() < deadline:
        time.sleep(0.5)
        now = (df_total(engine), data_bytes(engine))
        if now != last:
            last, since = now, time.monotonic()
