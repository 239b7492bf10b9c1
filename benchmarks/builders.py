"""Wall time and peak memory of ``layershare builders NAME`` against ``docker buildx du --builder NAME``.

    python benchmarks/builders.py [--records 1000] [--runs 5] [--store containerd|overlay2]

Starts a private Engine 29.7.2 (the test suite's), imports BuildKit v0.32.2's image and creates a buildx
builder with the docker-container driver (as tests/engine/builders.py does, offline), then builds until
the builder holds ``--records`` cache records (Dockerfiles of many small RUN steps, each step a record).
It then runs, as whole processes, side by side, interleaved, the median of ``--runs``:

- ``docker buildx du --builder bench`` (the baseline: buildx asks BuildKit over ``docker exec buildctl
  dial-stdio``);
- ``layershare builders bench --format json`` as root (the state volume's files);
- the same as uid 65534 with the engine's socket opened to it (the ``docker`` group: one ``docker exec``
  of ``buildctl du`` twice and ``buildctl debug workers``);
- ``python -c "import layershare.cli.main"``: Python's start and the CLI's imports alone, the floor of
  any layershare command.

It prints the medians, the peak memory (``/usr/bin/time``'s) and the ratios against the baseline (target:
at most 1.0x), and checks that both layershare runs list the records ``buildctl du`` lists.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "examples"), str(ROOT / "tests"),
                str(ROOT / "tests" / "engine")]  # fmt: skip

from buildx_builders import CLI_29, build, buildx_ready, du, make_builder, settle  # noqa: E402
from dupes import run_with_rusage  # noqa: E402
from engines import open_to_others  # noqa: E402
from machine import describe_machine  # noqa: E402
from scale import Measured  # noqa: E402
from support import start_engine  # noqa: E402

STEPS_PER_BUILD = 250


def fill(engine: object, wanted: int) -> int:
    """Build until the builder ``bench`` holds ``wanted`` records; how many it holds."""
    n = 0
    while (held := len(du(engine, "buildx_buildkit_bench0"))) < wanted:
        steps = "".join(f"RUN echo {n}-{i} > /f{i}\n" for i in range(STEPS_PER_BUILD))
        build(engine, "bench", f"FROM scratch\nCOPY rootfs/ /\n{steps}")
        n += 1
        print(f"  {held} records after {n - 1} build(s)…", flush=True)
    return held


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--records", type=int, default=1000, help="cache records in the builder (default 1000)"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median; default 5)")
    parser.add_argument("--store", choices=["containerd", "overlay2"], default="containerd")
    options = parser.parse_args()
    engine = start_engine(f"29.7-{options.store}")
    try:
        print(describe_machine(engine))
        start = time.perf_counter()
        buildx_ready(engine)
        make_builder(engine, "bench")
        held = fill(engine, options.records)
        settle(engine, ["buildx_buildkit_bench0_state"])
        du(engine, "buildx_buildkit_bench0")  # BuildKit sizes what it had not: every run reads the same
        print(f"\n{held} records in {time.perf_counter() - start:.0f}s")
        env = {**engine.env(), "DOCKER_CONFIG": str(engine.buildx_config)}
        as_group = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        group = [*as_group, sys.executable, "-m", "layershare", "builders", "bench", "--format", "json"]
        commands = {
            "docker buildx du --builder bench": [str(CLI_29 / "docker"), "buildx", "du", "--builder", "bench"],
            "python starts and imports layershare's CLI": [sys.executable, "-c", "import layershare.cli.main"],
            "layershare builders bench, root": [sys.executable, "-m", "layershare", "builders", "bench", "--format", "json"],
            "layershare builders bench, docker group": group,
        }  # fmt: skip
        rows = {label: Measured(label) for label in commands}
        listed: dict[str, object] = {}
        with open_to_others(engine):
            for label, args in commands.items():  # warm the page cache and the builder once
                run_with_rusage(args, {**env, "HOME": "/nonexistent"} if "group" in label else env)
            for _ in range(options.runs):
                for label, args in commands.items():
                    wall, rss, text = run_with_rusage(
                        args, {**env, "HOME": "/nonexistent"} if "group" in label else env
                    )
                    rows[label].add(wall, rss)
                    if label.startswith("layershare builders"):
                        listed[label] = sorted(
                            r["id"] for r in json.loads(text)["builders"][0]["cache_records"]
                        )
        truth = sorted(r["id"] for r in du(engine, "buildx_buildkit_bench0"))
        for label, ids in listed.items():
            if ids != truth:
                raise SystemExit(f"{label} lists other records than buildctl du")
        print(f"\n{len(truth)} records (median of {options.runs}):")
        print("| command | wall | peak memory |\n| --- | --- | --- |")
        for m in rows.values():
            print(f"| {m.label} | {m.median:.3f} s | {m.rss / 1e6:.0f} MB |")
        base = rows["docker buildx du --builder bench"].median
        print("ratios against docker buildx du (target <= 1.0): " + ", ".join(
            f"{label.removeprefix('layershare builders bench, ')}: {rows[label].median / base:.2f}x"
            for label in commands if label != "docker buildx du --builder bench"))  # fmt: skip
    finally:
        engine.stop()
        subprocess.run(["rm", "-rf", str(getattr(engine, "buildx_config", ""))], check=False)


if __name__ == "__main__":
    main()
