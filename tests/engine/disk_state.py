"""Engine state for the disk tests: containers that write and log, volumes, BuildKit cache, orphans."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

WRITER = (
    "dd if=/dev/urandom of=/written bs=1000 count=300 2>/dev/null; rm /etc/os-release; "
    "dd if=/dev/urandom of=/data/vol.bin bs=1000 count=200 2>/dev/null; "
    "i=0; while [ $i -lt 50 ]; do echo writer-log-line; i=$((i+1)); done; exec sleep 100000"
)
LOGGER = "i=0; while [ $i -lt 30000 ]; do echo 'a line of log output, about sixty characters long, from logger'; i=$((i+1)); done"
SHORT = "i=0; while [ $i -lt 5000 ]; do echo 'rotating log line, rotating log line, rotating log line'; i=$((i+1)); done"


def build_disk_state(engine: Any) -> dict[str, Any]:
    """Containers, logs, volumes, a BuildKit build with a cache mount; return what was planted."""
    d = engine.docker
    run = ["run", "--network", "none"]
    d(*run, "-d", "--name", "writer", "-v", "appdata:/data", "app-two:1", "sh", "-c", WRITER)
    d(*run, "--name", "logger", "app-one:1", "sh", "-c", LOGGER)
    d(
        *run,
        "--name",
        "rotated",
        "--log-opt",
        "max-size=100k",
        "--log-opt",
        "max-file=3",
        "app-one:1",
        "sh",
        "-c",
        SHORT,
    )
    d(*run, "--name", "locallog", "--log-driver", "local", "app-one:1", "sh", "-c", SHORT)
    d(
        *run,
        "--name",
        "anon-user",
        "-v",
        "/anon",
        "app-one:1",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/anon/a bs=1000 count=70",
    )
    d(
        *run,
        "--rm",
        "-v",
        "dangling:/d",
        "app-one:1",
        "sh",
        "-c",
        "dd if=/dev/urandom of=/d/x bs=1000 count=150",
    )
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(
            "FROM distro-b:1\n"
            "RUN --mount=type=cache,target=/cache dd if=/dev/urandom of=/cache/c.bin bs=1000 count=400 "
            "&& echo ok > /built\n"
        )
        env = dict(engine.env(), DOCKER_BUILDKIT="1")
        subprocess.run(
            ["/usr/bin/docker", "build", "--network=none", "-q", "-t", "bk-built:1", ctx],
            env=env, capture_output=True, check=True,
        )  # fmt: skip
    for _ in range(300):  # the writer is quiet once its 50 lines are out
        if d("logs", "writer").count("writer-log-line") == 50:
            break
        time.sleep(0.1)
    return {"orphans": plant_orphans(engine)}


def plant_orphans(engine: Any) -> set[str]:
    """What a crash or a half-finished removal leaves, which nothing references and nothing cleans up.

    (containerd's own garbage collector removes snapshot folders its metadata does not name, so on
    that store a stray snapshot folder does not stay: it is not planted.)
    """
    root = Path(engine.data_root)
    planted = set()
    leftover = root / "containers" / ("c" * 64)
    leftover.mkdir()
    (leftover / f"{'c' * 64}-json.log").write_bytes(os.urandom(60_000))
    planted.add(f"containers/{'c' * 64}")
    if (root / "overlay2").is_dir():
        for name in ("0" * 64, "1" * 64 + "-removing"):
            folder = root / "overlay2" / name / "diff"
            folder.mkdir(parents=True)
            (folder / "leftover.bin").write_bytes(os.urandom(90_000))
            planted.add(f"overlay2/{name}")
    else:
        blob = os.urandom(90_000)
        digest = hashlib.sha256(blob).hexdigest()
        blobs = Path("containerd", "daemon", "io.containerd.content.v1.content", "blobs", "sha256", digest)
        (root / blobs).write_bytes(blob)
        planted.add(blobs.as_posix())
    return planted
