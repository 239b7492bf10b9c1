"""Wall time and peak memory of ``layershare dupes`` against reading and hashing every stored file once.

    python benchmarks/dupes.py [--runs 3] [--host-images 0] [--containerd-store] [--dockerd PATH]

Loads the test suite's images into a private engine (the example corpus, and the dupes tests' images:
two bases with the same busybox, a library folder on both, hard links, whiteouts, a layer of 100,000
small files), then runs as whole processes, side by side, interleaved, the median of ``--runs``:

- cold: ``find <the layer store> -type f -print0 | xargs -0 cat | sha256sum`` (every stored file read
  and hashed once: the baseline) against ``layershare dupes --format json`` with an empty cache folder
  (target: at most 1.0x);
- warm: ``layershare report --format json`` with its cache filled (the baseline) against ``layershare
  dupes --format json`` with its cache filled (target: at most 1.5x).

``--host-images N`` loads N images of the seeded host of ``host_corpus.py`` first (about 1.1 stored
layers each) and states dupes' peak memory at that many stored layers. Both sides run with the page
cache as it is after the first run (warm): what is compared is the work done, not the disk.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [
    str(ROOT),
    str(ROOT / "benchmarks"),
    str(ROOT / "examples"),
    str(ROOT / "tests"),
    str(ROOT / "tests" / "engine"),
]

from corpus import build_corpus  # noqa: E402
from devengine import start_private_engine  # noqa: E402
from host_corpus import load_host  # noqa: E402
from machine import describe_machine  # noqa: E402
from scale import Measured  # noqa: E402


def run_with_rusage(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall time, peak memory (``/usr/bin/time``'s: this process built the images in memory, so a child's
    own figure would count the copy it starts as) and stdout of one command."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-500:]}")
    return wall, int(done.stderr.strip().splitlines()[-1]) * 1024, done.stdout


def load_dupes_images(engine: object) -> None:
    """The dupes tests' images (tests/engine/test_dupes_engine.py), loaded from the archive they write."""
    from corpus import write_load_archive
    from test_dupes_engine import images

    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder, "dupes.tar")
        write_load_archive(images(), archive)
        engine.docker("load", "-q", "-i", str(archive))  # type: ignore[attr-defined]


def layer_store(engine: object, containerd_store: bool) -> str:
    """The folder every stored layer's files are under, and the pattern of their folders."""
    root = Path(engine.data_root)  # type: ignore[attr-defined]
    if containerd_store:
        snapshots = next(root.glob("containerd/daemon/io.containerd.snapshotter.v1.*/snapshots"), None)
        if snapshots is None:
            raise SystemExit(f"no containerd snapshots under {root}")
        return f"find {snapshots} -path '*/fs/*' -type f -print0"
    return f"find {root}/overlay2 -path '*/diff/*' -type f -print0"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per command (median; default 3)")
    parser.add_argument(
        "--host-images", type=int, default=0, help="seeded host images loaded first (default 0)"
    )
    parser.add_argument("--dockerd", help="another dockerd binary")
    parser.add_argument("--containerd-store", action="store_true", help="the containerd image store")
    options = parser.parse_args()
    engine = start_private_engine(dockerd=options.dockerd, containerd_store=options.containerd_store)
    try:
        print(describe_machine(engine))
        start = time.perf_counter()
        if options.host_images:
            load_host(engine, 0, options.host_images)
        build_corpus(engine.docker)
        load_dupes_images(engine)
        print(f"\nloaded the images in {time.perf_counter() - start:.0f}s")
        env = engine.env()
        py = [sys.executable, "-m", "layershare"]
        find = layer_store(engine, options.containerd_store)
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache"
            where = ["--cache-dir", str(cache)]
            commands = {
                "cold": {
                    "read and hash every stored file once": [
                        "sh",
                        "-c",
                        f"{find} | xargs -0 cat | sha256sum",
                    ],
                    "layershare dupes": [*py, "dupes", "--format", "json", "--quiet", *where],
                },
                "warm": {
                    "layershare report": [*py, "report", "--format", "json", "--quiet", *where],
                    "layershare dupes": [*py, "dupes", "--format", "json", "--quiet", *where],
                },
            }
            rows: dict[str, Measured] = {}
            found: dict[str, object] = {}
            for temperature, side in commands.items():
                for label in side:
                    rows[f"{label}, {temperature}"] = Measured(f"{label}, {temperature}")
                run_with_rusage(side["layershare dupes"], env)  # the page cache and (warm) the caches filled
                for _ in range(options.runs):
                    for label, args in side.items():
                        if temperature == "cold":
                            shutil.rmtree(cache, ignore_errors=True)
                        wall, rss, text = run_with_rusage(args, env)
                        rows[f"{label}, {temperature}"].add(wall, rss)
                        if label == "layershare dupes":
                            found = json.loads(text)
        print(
            f"\n{len(found['images'])} images, {found['stored_layers']} stored layers, "  # type: ignore[arg-type]
            f"{found['stored_files']:,} files, {found['stored_bytes']:,} B (median of {options.runs}):"
        )
        print("| command | wall | peak memory |\n| --- | --- | --- |")
        for m in rows.values():
            print(f"| {m.label} | {m.median:.2f} s | {m.rss / 1e6:.0f} MB |")
        cold = (
            rows["layershare dupes, cold"].median / rows["read and hash every stored file once, cold"].median
        )
        warm = rows["layershare dupes, warm"].median / rows["layershare report, warm"].median
        print(f"ratios: dupes cold / read and hash once = {cold:.2f} (target <= 1.0), "
              f"dupes warm / report warm = {warm:.2f} (target <= 1.5)")  # fmt: skip
        print(f"peak memory of dupes at {found['stored_layers']} stored layers: "
              f"{rows['layershare dupes, cold'].rss / 1e6:.0f} MB cold, {rows['layershare dupes, warm'].rss / 1e6:.0f} MB warm")  # fmt: skip
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
