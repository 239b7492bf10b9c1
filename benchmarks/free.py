"""Wall time and peak memory of ``layershare free`` against the report it builds on (and ``docker system df``).

    python benchmarks/free.py [--images 1000] [--containers 50] [--runs 5] [--dockerd PATH]

Loads the seeded host of ``host_corpus.py`` into a private engine, starts
containers that write files (every fourth keeps running) and makes BuildKit
cache, then runs as whole processes, side by side, the median of ``--runs`` of:

- ``layershare report`` warm with options not asked before (the image cache is
  filled, no stored report fits: the analysis runs; README's row of that name);
- ``layershare free 'GLOB'`` (images only) with the same cache: target <= 1.5x that report;
- that report and ``docker system df -v`` back to back;
- ``layershare free --like "docker system prune -a --volumes"`` (containers, volumes,
  build cache): target <= 1.2x the report plus ``docker system df -v``.

It prints each median and peak memory, and the two ratios.
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

from devengine import start_private_engine  # noqa: E402
from disk import build_with_cache, start_containers  # noqa: E402
from host_corpus import load_host  # noqa: E402
from machine import describe_machine  # noqa: E402
from scale import Measured, run_with_rusage  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000, help="images on the host (default 1000)")
    parser.add_argument("--containers", type=int, default=50, help="containers that wrote files (default 50)")
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median; default 5)")
    parser.add_argument("--dockerd", help="another dockerd binary")
    options = parser.parse_args()
    engine = start_private_engine(dockerd=options.dockerd)
    try:
        print(describe_machine(engine))
        start = time.perf_counter()
        load_host(engine, 0, options.images)
        start_containers(engine, options.containers)
        build_with_cache(engine)
        print(
            f"\nloaded {options.images} images, {options.containers} containers in {time.perf_counter() - start:.0f}s"
        )
        env = engine.env()
        tags = engine.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split()
        assert any("/app1" in t for t in tags), "the host corpus names its apps <team>/app<n>"
        glob = "*/app1*"  # about a tenth of the apps
        py = [sys.executable, "-m", "layershare"]
        with tempfile.TemporaryDirectory() as tmp:
            cache = ["--cache-dir", str(Path(tmp) / "cache")]
            subprocess.run([*py, "report", "--quiet", *cache], env=env, check=True, capture_output=True)
            report = Measured("layershare report, warm, options not asked before")
            images = Measured(f"layershare free '{glob}' (images only)")
            report_df = Measured("that report; docker system df -v")
            prune = Measured('layershare free --like "docker system prune -a --volumes"')
            found = {}
            for n in range(options.runs):  # interleaved, so drift hits every row alike
                args = [*py, "report", "--format", "json", "--quiet", "--top", str(1000 + n), *cache]
                report.add(*run_with_rusage(args, env)[:2])
                wall, rss, out = run_with_rusage([*py, "free", "--format", "json", glob, *cache], env)
                images.add(wall, rss)
                found["images"] = json.loads(out)
                both = " ".join(args).replace("--top " + str(1000 + n), "--top " + str(2000 + n))
                report_df.add(
                    *run_with_rusage(
                        ["sh", "-c", f"{both} >/dev/null && docker system df -v >/dev/null"], env
                    )[:2]
                )
                like = [*py, "free", "--format", "json", "--like", "docker system prune -a --volumes", *cache]
                wall, rss, out = run_with_rusage(like, env)
                prune.add(wall, rss)
                found["prune"] = json.loads(out)
        print(f"\n{options.images} images, {options.containers} containers (median of {options.runs}):")
        print("| command | wall | peak memory |\n| --- | --- | --- |")
        for m in (report, images, report_df, prune):
            print(f"| {m.label} | {m.median:.2f} s | {m.rss / 1e6:.0f} MB |")
        print(
            f"ratios: free images / report = {images.median / report.median:.2f} (target <= 1.5), "
            f"free prune / (report + df) = {prune.median / report_df.median:.2f} (target <= 1.2)"
        )
        print(
            f"figures: {len(found['images']['images'])} images selected would free "
            f"{found['images']['freed_bytes']:,} B; the prune would free {found['prune']['freed_bytes']:,} B"
        )
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
