"""Wall time and peak memory of ``layershare disk`` against ``docker system df -v`` + ``du -sx DATA_ROOT``.

    python benchmarks/disk.py [--images 1000] [--containers 200] [--runs 5] [--dockerd PATH]

Loads the seeded host of ``host_corpus.py`` into a private engine, starts
``--containers`` containers from a busybox base that each write files and log
lines (a quarter keep running, the rest exit), then runs, as whole processes,
side by side, the median of ``--runs`` of:

- ``docker system df -v`` (the engine walks containers' writable layers and volumes);
- ``du -sx --block-size=1 DATA_ROOT`` (walks everything);
- both back to back: the baseline ``layershare disk`` is held against;
- ``layershare disk --format json`` (one walk; the engine is asked only for its build cache).

``--build-cache`` first runs one BuildKit build with a cache mount (Debian's
20.10 CLI at ``/usr/bin/docker``), so that the engine has build-cache records:
below API 1.42 (Engine 20.10) layershare then needs the engine's whole
``/system/df``, beside its walk.

It prints each median wall time and peak resident memory, and the ratios the
target is stated in. It also checks that layershare's total equals ``du``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "examples"))

from corpus import busybox_rootfs  # noqa: E402
from devengine import PrivateEngine, start_private_engine  # noqa: E402
from host_corpus import load_host  # noqa: E402
from machine import describe_machine  # noqa: E402
from scale import measure  # noqa: E402

WRITE = (
    "i=0; while [ $i -lt 20 ]; do dd if=/dev/urandom of=/data$i.bin bs=1000 count=10 2>/dev/null; "
    "echo wrote file $i; i=$((i+1)); done; rm -f /etc/os-release"
)


def start_containers(engine: PrivateEngine, count: int) -> None:
    """``count`` containers that each write 20 files of 10 kB and log; every fourth keeps running."""
    engine.docker(
        "import", "-", "bench-base:1", input_bytes=busybox_rootfs({"etc/os-release": b"ID=bench\n"})
    )
    names = [f"writer{n}" for n in range(count)]
    lines = "\n".join(
        " ".join(
            ["run", "-d", "--network", "none", "--name", name, "bench-base:1", "sh", "-c",
             f"'{WRITE}" + ("; exec sleep 100000'" if n % 4 == 0 else "'")]
        )
        for n, name in enumerate(names)
    )  # fmt: skip
    subprocess.run(
        ["xargs", "-P", "4", "-L", "1", "docker"], input=lines.encode(), env=engine.env(), check=True,
        capture_output=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until every writer has written its files
        done = engine.docker("ps", "-a", "--filter", "status=exited", "-q").split()
        if len(done) >= count - (count + 3) // 4:
            break
        time.sleep(1)
    time.sleep(3)


def build_with_cache(engine: PrivateEngine) -> None:
    """One BuildKit build with a cache mount: the engine then has build-cache records."""
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(
            "FROM bench-base:1\nRUN --mount=type=cache,target=/cache dd if=/dev/urandom of=/cache/c bs=1000 count=500\n"
        )
        env = dict(engine.env(), DOCKER_BUILDKIT="1")
        subprocess.run(["/usr/bin/docker", "build", "--network=none", "-q", "-t", "bench-built:1", ctx],
                       env=env, check=True, capture_output=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000, help="images on the host (default 1000)")
    parser.add_argument(
        "--containers", type=int, default=200, help="containers that wrote files (default 200)"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median; default 5)")
    parser.add_argument("--dockerd", help="another dockerd binary")
    parser.add_argument(
        "--containerd-store", action="store_true", help="the containerd image store (Engine 29's default)"
    )
    parser.add_argument(
        "--build-cache", action="store_true", help="make build-cache records first (BuildKit)"
    )
    options = parser.parse_args()
    engine = start_private_engine(dockerd=options.dockerd, containerd_store=options.containerd_store)
    try:
        print(describe_machine(engine))
        start = time.perf_counter()
        layers = load_host(engine, 0, options.images)
        start_containers(engine, options.containers)
        if options.build_cache:
            build_with_cache(engine)
        files = int(
            subprocess.run(
                ["sh", "-c", f"find {engine.data_root} -xdev | wc -l"], capture_output=True, text=True
            ).stdout
        )
        print(
            f"\nloaded {options.images} images ({layers} layer tars) and started {options.containers} containers "
            f"in {time.perf_counter() - start:.0f}s; the data root holds {files} files and folders"
        )
        env = engine.env()
        root = str(engine.data_root)
        df, _ = measure("docker system df -v", ["docker", "system", "df", "-v"], env, options.runs)
        du, du_out = measure("du -sx DATA_ROOT", ["du", "-sx", "--block-size=1", root], env, options.runs)
        both, _ = measure(
            "docker system df -v; du -sx DATA_ROOT (the baseline)",
            ["sh", "-c", f"docker system df -v >/dev/null && du -sx --block-size=1 {root} >/dev/null"],
            env,
            options.runs,
        )
        ours, out = measure(
            "layershare disk --format json",
            [sys.executable, "-m", "layershare", "disk", "--format", "json"],
            env,
            options.runs,
        )
        walked = json.loads(out)["on_disk_bytes"]
        cache = ", build cache" if options.build_cache else ""
        print(
            f"\n{options.images} images, {options.containers} containers{cache} (median of {options.runs}):"
        )
        print("| command | wall | peak memory |\n| --- | --- | --- |")
        for m in (df, du, both, ours):
            print(f"| {m.label} | {m.median:.2f} s | {m.rss / 1e6:.0f} MB |")
        print(f"ratio: layershare disk / (df -v + du) = {ours.median / both.median:.2f} (target <= 1.0)")
        print(f"peak memory {ours.rss / 1e6:.0f} MB (target <= 300 MB)")
        print(
            f"layershare's total {walked} vs du {int(du_out.split()[0])} (the engine was running while both walked)"
        )
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
