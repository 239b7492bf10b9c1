"""Peak memory of ``layershare check`` streaming a multi-hundred-MB image (issue: under 100 MB).

    python benchmarks/waste_memory.py [--size-mb 400] [--dockerd PATH --containerd-store]

Writes a seeded ``docker load`` archive of one large image (a base of many
small files, a big file written then deleted, files overwritten, a folder
emptied), loads it into a private engine, then runs in one go, each as its own
process, measuring its peak resident memory (``ru_maxrss`` of the child):

- ``layershare check IMAGE`` (streams ``GET /images/{id}/get`` and replays every layer);
- ``layershare check IMAGE --no-content`` (the same process without reading contents);
- ``python -c "import pandas, docker"`` (the interpreter and libraries alone).

It prints the figures, the ratios to the 100 MB target, and the wasted bytes
found next to the bytes the generator wasted on purpose.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from devengine import start_private_engine  # noqa: E402

TARGET_BYTES = 100 * 1000**2


class _RandomBytes(io.RawIOBase):
    """``size`` seeded random bytes, produced as they are read (no big buffer)."""

    def __init__(self, rng: random.Random, size: int) -> None:
        self.rng, self.left = rng, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = self.rng.randbytes(n)
        self.left -= n
        return n


def _layer(
    outer: tarfile.TarFile, files: list[tuple[str, int | None]], rng: random.Random, work: Path
) -> str:
    """Write one layer tar (``None`` size = an empty whiteout file), add it to ``outer``; returns its diff ID."""
    path = work / "layer.tar"
    with tarfile.open(path, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, size in files:
            info = tarfile.TarInfo(name)
            info.size = size or 0
            tar.addfile(info, _RandomBytes(rng, info.size))
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    outer.add(str(path), arcname=f"{digest.hexdigest()}/layer.tar")
    path.unlink()
    return digest.hexdigest()


def write_archive(path: Path, size_mb: int, seed: int = 7) -> tuple[int, int]:
    """The large image; returns (its bytes, the bytes its later layers waste on purpose)."""
    rng = random.Random(seed)
    mb = 1000**2
    base_files = [(f"usr/share/data/{i // 500}/f{i}.bin", rng.randrange(1000, 20_000)) for i in range(20_000)]
    big = size_mb * mb * 35 // 100
    overwritten = [(f"opt/app/lib{i}.so", 2 * mb) for i in range(size_mb * 15 // 200)]
    layers: list[list[tuple[str, int | None]]] = [
        base_files,
        [("tmp/big.tar", big)],  # written ...
        [("tmp/.wh.big.tar", None)],  # ... then deleted
        overwritten,
        [(name, size) for name, size in overwritten],  # every library rebuilt once
        [("usr/share/data/0/.wh..wh..opq", None), ("usr/share/data/0/readme", 100)],  # a folder emptied
    ]
    wasted = (
        big
        + sum(s for _, s in overwritten)
        + sum(s for n, s in base_files if n.startswith("usr/share/data/0/"))
    )
    total = 0
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(path, "w") as outer:
        diff_ids = []
        for files in layers:
            diff_ids.append("sha256:" + _layer(outer, files, rng, Path(tmp)))
            total += sum(s or 0 for _, s in files)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created_by": f"layer {n}"} for n in range(len(diff_ids))],
            }
        ).encode()
        name = hashlib.sha256(config).hexdigest() + ".json"
        for member, data in (
            (name, config),
            (
                "manifest.json",
                json.dumps(
                    [
                        {
                            "Config": name,
                            "RepoTags": ["big:1"],
                            "Layers": [f"{d[7:]}/layer.tar" for d in diff_ids],
                        }
                    ]
                ).encode(),
            ),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            outer.addfile(info, io.BytesIO(data))
    return total, wasted


def peak_rss(args: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    """Peak resident bytes, wall seconds and stdout of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = child.stdout.read() if child.stdout else b""
    _, _, usage = os.wait4(child.pid, 0)
    return usage.ru_maxrss * 1024, time.perf_counter() - start, out.decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=400, help="image size in MB (default 400)")
    parser.add_argument(
        "--dockerd", help="another dockerd binary (e.g. .cache/engines/docker-26.1/usr/sbin/dockerd)"
    )
    parser.add_argument(
        "--containerd-store", action="store_true", help="run that engine with the containerd store"
    )
    options = parser.parse_args()
    engine = start_private_engine(dockerd=options.dockerd, containerd_store=options.containerd_store)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "big.tar"
            size, wasted_on_purpose = write_archive(archive, options.size_mb)
            engine.docker("load", "-q", "-i", str(archive))
        env = engine.env()
        py = sys.executable
        rows = [
            (
                "check IMAGE (streams the image)",
                [py, "-m", "layershare", "check", "big:1", "-f", "json", "-q"],
            ),
            (
                "check IMAGE --no-content",
                [py, "-m", "layershare", "check", "big:1", "--no-content", "-f", "json"],
            ),
            ("python -c 'import pandas, docker'", [py, "-c", "import pandas, docker"]),
        ]
        print(
            f"image big:1: {size / 1e6:.0f} MB in 6 layers; engine {engine.docker('version', '-f', '{{.Server.Version}}').strip()}"
        )
        print(f"{'command':<36} {'peak RSS':>10} {'wall':>7} {'vs 100 MB':>10}")
        results = {}
        for label, args in rows:
            rss, wall, out = peak_rss(args, env)
            results[label] = (rss, out)
            print(f"{label:<36} {rss / 1e6:>8.1f}MB {wall:>6.2f}s {rss / TARGET_BYTES:>9.2f}x")
        streamed, output = results[rows[0][0]]
        baseline = results[rows[1][0]][0]
        image = json.loads(output)["images"][0]
        print(f"streaming adds {(streamed - baseline) / 1e6:.1f} MB over the same process without contents")
        print(f"wasted bytes found: {image['waste']['wasted_bytes']}; wasted on purpose: {wasted_on_purpose}")
        print(
            "PASS" if streamed < TARGET_BYTES else "FAIL", f"peak {streamed / 1e6:.1f} MB (target < 100 MB)"
        )
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
