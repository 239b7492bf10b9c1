"""Wall time and peak memory of ``layershare plan`` against ``layershare report`` on the same engine.

    python benchmarks/plan.py [--images 1000] [--containers 50] [--runs 3] [--dockerd PATH]
                              [--containerd-store]

Loads the seeded host of ``host_corpus.py`` into a private engine and starts containers that write
files (every fourth keeps running), then runs as whole processes, side by side, the median of
``--runs`` of each, cold (an empty cache folder before each run) and warm (the cache filled):

- ``layershare report --format json`` (the baseline);
- ``layershare plan --free <a third of what the images hold alone> --min-age 0``: a target the plan
  reaches by choosing among every image (the doubling and the reverse pass run);
- ``layershare plan --free 1PB --min-age 0``: out of reach, every eligible image taken.

It prints each median and peak memory, and the ratios against the report (target: at most 1.5x,
cold and warm), and checks that the plan it timed met its target.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "examples"))

from devengine import start_private_engine  # noqa: E402
from disk import start_containers  # noqa: E402
from host_corpus import load_host  # noqa: E402
from machine import describe_machine  # noqa: E402
from scale import Measured, run_with_rusage  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000, help="images on the host (default 1000)")
    parser.add_argument("--containers", type=int, default=50, help="containers that wrote files (default 50)")
    parser.add_argument("--runs", type=int, default=3, help="runs per command (median; default 3)")
    parser.add_argument("--dockerd", help="another dockerd binary")
    parser.add_argument("--containerd-store", action="store_true", help="the containerd image store")
    options = parser.parse_args()
    engine = start_private_engine(dockerd=options.dockerd, containerd_store=options.containerd_store)
    try:
        print(describe_machine(engine))
        start = time.perf_counter()
        load_host(engine, 0, options.images)
        start_containers(engine, options.containers)
        print(
            f"\nloaded {options.images} images, {options.containers} containers in {time.perf_counter() - start:.0f}s"
        )
        env = engine.env()
        py = [sys.executable, "-m", "layershare"]
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "cache"
            where = ["--cache-dir", str(cache)]
            _, _, out = run_with_rusage([*py, "report", "--format", "json", "--quiet", *where], env)
            alone = sum(int(i["unique_bytes"]) for i in json.loads(out)["images"])
            target = str(max(alone // 3, 1))
            commands = {
                "report": [*py, "report", "--format", "json", "--quiet", *where],
                "plan": [*py, "plan", "--format", "json", "--free", target, "--min-age", "0", *where],
                "plan, out of reach": [
                    *py,
                    "plan",
                    "--format",
                    "json",
                    "--free",
                    "1PB",
                    "--min-age",
                    "0",
                    *where,
                ],
            }
            rows: dict[str, Measured] = {}
            plans: dict[str, dict[str, object]] = {}
            for temperature in ("cold", "warm"):
                for label in commands:
                    rows[f"{label}, {temperature}"] = Measured(f"layershare {label}, {temperature}")
                for _ in range(options.runs):  # interleaved, so drift hits every row alike
                    for label, args in commands.items():
                        if temperature == "cold":
                            shutil.rmtree(cache, ignore_errors=True)
                        elif not cache.exists():
                            run_with_rusage(commands["report"], env)
                        wall, rss, text = run_with_rusage(args, env, ok=(0, 8))
                        rows[f"{label}, {temperature}"].add(wall, rss)
                        if label.startswith("plan"):
                            plans[label] = json.loads(text)
        reached = plans["plan"]
        if not reached["reached"]:
            raise SystemExit(f"the plan to free {target} B did not reach it")
        print(f"\n{options.images} images, {options.containers} containers (median of {options.runs}):")
        print("| command | wall | peak memory |\n| --- | --- | --- |")
        for m in rows.values():
            print(f"| {m.label} | {m.median:.2f} s | {m.rss / 1e6:.0f} MB |")
        ratios = {
            f"{label} / report, {t}": rows[f"{label}, {t}"].median / rows[f"report, {t}"].median
            for t in ("cold", "warm")
            for label in ("plan", "plan, out of reach")
        }
        print("ratios (target <= 1.5): " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
        items = reached["items"]
        assert isinstance(items, list)
        print(
            f"the plan: {len(items)} images to free {int(target):,} B, freeing {reached['freed_bytes']:,} B"
        )
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
