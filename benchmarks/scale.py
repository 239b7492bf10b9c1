"""Wall time and peak memory of ``layershare report`` against ``docker system df -v`` and a naive SDK loop.

    python benchmarks/scale.py [--sizes 100,1000,10000] [--runs 5] [--dockerd PATH] [--user UID]

Loads the seeded host of ``host_corpus.py`` into a private engine in steps
(100, then up to 1,000, then up to 10,000 images) and at each size runs, as
whole processes, side by side, the median of ``--runs`` of:

- ``docker system df -v`` (the engine's own accounting, the baseline);
- the Docker SDK done naively: ``client.images.list()``, then ``.history()`` per image;
- ``python -c "import pandas, tabulate, docker"`` (imports alone);
- ``layershare report --format json`` cold (an empty cache folder each run);
- ``layershare report --format json`` warm (cache filled, nothing changed);
- warm after one image is added, and after it is removed again (one run each);
- the floor of a cold run: the same requests a cold run made (read from dockerd's debug log), sent
  again by one process with layershare's own HTTP client and nothing else done (the lists together,
  then each image's requests on two threads per core, ``/system/df`` beside them from the start; every
  body read and dropped): what waiting on the engine's answers alone takes.

It prints each median wall time and peak resident memory (``ru_maxrss`` of
the child) and the ratios the targets are stated in, and checks that the
cold and warm reports are identical.

``--user UID`` runs every measured command (``docker system df -v`` too) as that
unprivileged user, as most people run layershare: a member of the ``docker``
group reaches the socket but not the engine's files, so every image is read
through the API. For that run the engine's socket is opened to everyone, the
cache goes to a folder the user owns (``LAYERSHARE_CACHE_DIR``), and the folders
on the way to this Python that others may not enter get the execute bit (a
mode-700 ``/root`` holding pyenv, say); every mode is put back at the end. The
report must then be exact all the same (no estimate), and every figure in it is
checked against root's report of the same engine (but the notes, which say where
the figures come from, and the allocated bytes on disk, which need root): on the containerd store the group's blobs come from
the engine's export, read once per image, then from the cache.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "examples"))

from devengine import PrivateEngine, start_private_engine  # noqa: E402
from host_corpus import load_host  # noqa: E402
from machine import describe_machine  # noqa: E402

NAIVE = (
    "import docker, os\n"
    "client = docker.DockerClient(base_url=os.environ['DOCKER_HOST'])\n"
    "for image in client.images.list():\n"
    "    image.history()\n"
)


# The floor: the requests of a cold run, as fast as one process can send them: the lists first
# (together), each image's own requests once the list is in (on two threads per core), and whatever
# needs no list (``/system/df``) on a thread of its own from the start.
REPLAY = (
    "import json, os, sys, threading\n"
    "from concurrent.futures import ThreadPoolExecutor\n"
    "from layershare.sources.engine.plain_api import _Connection, plain_endpoint\n"
    "paths = json.load(open(sys.argv[1]))\n"
    "endpoint = plain_endpoint(os.environ['DOCKER_HOST'])\n"
    "local = threading.local()\n"
    "def get(path):\n"
    "    if not hasattr(local, 'c'):\n"
    "        local.c = _Connection(endpoint, 300.0)\n"
    "    status, body = local.c.get(path)\n"
    "    assert status < 500, (status, path)\n"
    "per_image = [p for p in paths if '/images/sha256:' in p or '/images/sha256%3A' in p]\n"
    "free = [p for p in paths if '/system/df' in p]\n"
    "lists = [p for p in paths if p not in set(per_image) | set(free)]\n"
    "with ThreadPoolExecutor(len(free) or 1) as side:\n"
    "    started = [side.submit(get, p) for p in free]\n"
    "    with ThreadPoolExecutor(len(lists) or 1) as pool:\n"
    "        list(pool.map(get, lists))\n"
    "    with ThreadPoolExecutor(2 * (os.cpu_count() or 1)) as pool:\n"
    "        list(pool.map(get, per_image))\n"
    "    [f.result() for f in started]\n"
)
# dockerd's debug log of a call: "Calling GET /v1.41/..." (20.10, 26.1) or request-url=... (28 and later).
CALL = re.compile(
    r"Calling GET ([^\s\"]+)|handling GET request\" method=GET [^\n]*?request-url=\"?([^\s\"]+)"
)


class Measured:
    """Repeated runs of one command: median wall time, peak memory (largest seen)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.walls: list[float] = []
        self.rss = 0

    def add(self, wall: float, rss: int) -> None:
        self.walls.append(wall)
        self.rss = max(self.rss, rss)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


def measure(
    label: str, args: list[str], env: dict[str, str], runs: int, before: list[str] | None = None
) -> tuple[Measured, str]:
    """``runs`` runs of ``args``; ``before`` is run (unmeasured) ahead of each."""
    result = Measured(label)
    out = ""
    for _ in range(runs):
        if before:
            subprocess.run(before, env=env, check=True, capture_output=True)
        wall, rss, out = run_with_rusage(args, env)
        result.add(wall, rss)
    return result, out


RUN_AS: int | None = None  # --user: the uid every measured command runs as


def _drop() -> None:
    assert RUN_AS is not None
    os.setgroups([])
    os.setgid(RUN_AS)
    os.setuid(RUN_AS)


def run_with_rusage(
    args: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)
) -> tuple[float, int, str]:
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            args, env=env, stdout=out, stderr=err, preexec_fn=_drop if RUN_AS is not None else None
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode not in ok:
            err.seek(0)
            raise SystemExit(f"{' '.join(args)} failed: {err.read().decode()[-500:]}")
        out.seek(0)
        return wall, usage.ru_maxrss * 1024, out.read().decode()


def comparable(report_json: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads(report_json)
    doc.pop("collected_at", None)
    return doc


def differences(a: object, b: object, where: str = "") -> list[str]:
    """Where two JSON documents differ (paths, lists by position)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for n, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{n}]")
        ]
    return [] if a == b else [where or "."]


def bench_size(engine: PrivateEngine, n: int, runs: int, naive_runs: int, extra: int) -> list[Measured]:
    env = engine.env()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        if RUN_AS is not None:
            os.chmod(tmp, 0o777)
            env = {**env, "HOME": tmp, "LAYERSHARE_CACHE_DIR": str(cache)}
        report = [py, "-m", "layershare", "report", "--format", "json", "--quiet"]
        df, _ = measure("docker system df -v", ["docker", "system", "df", "-v"], env, runs)
        naive, _ = measure("naive SDK loop (list + history)", [py, "-c", NAIVE], env, naive_runs)
        imports, _ = measure(
            "import pandas, tabulate, docker", [py, "-c", "import pandas, tabulate, docker"], env, runs
        )
        cold, cold_out = measure(
            "layershare cold (empty cache)",
            [*report, "--cache-dir", str(cache)],
            env,
            runs,
            before=["rm", "-rf", str(cache)],
        )
        floor = measure_floor(engine, [*report, "--cache-dir", str(cache)], env, runs, Path(tmp), cache)
        warm, warm_out = measure(
            "layershare warm (cache filled)", [*report, "--cache-dir", str(cache)], env, runs
        )
        if comparable(cold_out) != comparable(warm_out):
            raise SystemExit("cold and warm reports differ")
        inexact = [i["id"] for i in json.loads(cold_out)["images"] if not i["exact"]]
        if inexact:
            raise SystemExit(f"{len(inexact)} images have estimated figures")
        if RUN_AS is not None:  # the same engine read by root, from its files: the same figures
            as_root = subprocess.run(
                [*report, "--no-cache"], env=engine.env(), capture_output=True, check=True
            )
            ours, roots = comparable(cold_out), comparable(as_root.stdout.decode())
            for doc in (ours, roots):  # the notes say where the figures come from; disk bytes need root
                doc.pop("notes", None)
                doc["totals"].pop("physical_disk_bytes", None)  # type: ignore[attr-defined]
            if ours != roots:
                raise SystemExit(f"the API-only report differs from root's: {differences(roots, ours)[:10]}")
            print(f"as uid {RUN_AS}: every figure equals root's report of the same engine")
        analysis = Measured("layershare warm, new options (image cache only)")
        for n in range(runs):  # a --top not asked before: no stored report, every image cached
            wall, rss, out = run_with_rusage(
                [*report, "--cache-dir", str(cache), "--top", str(1000 + n)], env
            )
            analysis.add(wall, rss)
        if comparable(out) != comparable(cold_out):
            raise SystemExit("a report from the image cache differs from a cold one")
        load_host(engine, extra, extra + 1)
        added, _ = measure("layershare warm, one image added", [*report, "--cache-dir", str(cache)], env, 1)
        engine.docker("rmi", extra_tag(engine, extra))
        removed, _ = measure(
            "layershare warm, that image removed", [*report, "--cache-dir", str(cache)], env, 1
        )
    return [df, naive, imports, cold, floor, warm, analysis, added, removed]


def measure_floor(
    engine: PrivateEngine, report: list[str], env: dict[str, str], runs: int, tmp: Path, cache: Path
) -> Measured:
    """The floor of a cold run: one more cold run (not counted) whose requests dockerd logs, then those
    requests replayed (:data:`REPLAY`) ``runs`` times, as whole processes."""
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    mark = len(engine.log())
    run_with_rusage(report, env)
    time.sleep(1)  # dockerd writes its log a moment after it answers
    paths = [a or b for a, b in CALL.findall(engine.log()[mark:])]
    if not paths:
        raise SystemExit("dockerd logged no request: start it with debug=True")
    calls = tmp / "calls.json"
    calls.write_text(json.dumps(paths))
    os.chmod(calls, 0o644)
    floor, _ = measure(
        f"the engine's answers alone ({len(paths)} requests of a cold run, replayed)",
        [sys.executable, "-c", REPLAY, str(calls)],
        env,
        runs,
    )
    run_with_rusage(report, env)  # the cache filled again (unmeasured): the warm runs come next
    return floor


def extra_tag(engine: PrivateEngine, extra: int) -> str:
    """The tag of the one image loaded on top of the host."""
    listing = engine.docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split()
    return next(t for t in listing if t.endswith(f"/app{extra}:1"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100,1000,10000", help="image counts, ascending (default 100,1000,10000)"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median; default 5)")
    parser.add_argument("--naive-runs", type=int, default=0, help="runs of the naive loop (default: --runs)")
    parser.add_argument("--dockerd", help="another dockerd binary")
    parser.add_argument(
        "--containerd-store", action="store_true", help="the containerd image store (Engine 29's default)"
    )
    parser.add_argument(
        "--user", type=int, metavar="UID", help="measure as this unprivileged uid (e.g. 65534)"
    )
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    engine = start_private_engine(
        dockerd=options.dockerd, containerd_store=options.containerd_store, debug=True
    )  # debug: dockerd logs each request, which the floor replays
    opened: list[tuple[Path, int]] = []
    try:
        if options.user is not None:
            global RUN_AS
            RUN_AS = options.user
            opened = open_for(engine)
            print(f"as uid {RUN_AS}: API only (the data root {engine.data_root} is not readable)")
        print(describe_machine(engine))
        loaded = 0
        summary = []
        for n in sizes:
            start = time.perf_counter()
            layers = load_host(engine, loaded, n)
            print(
                f"\nloaded images {loaded}-{n - 1} ({layers} layer tars) in {time.perf_counter() - start:.0f}s"
            )
            loaded = n
            rows = bench_size(
                engine, n, options.runs, options.naive_runs or options.runs, extra=1_000_000 + n
            )
            df, naive, _, cold, floor, warm, analysis, added, removed = rows
            print(
                f"\n{n} images (median of {options.runs}; naive loop {options.naive_runs or options.runs}):"
            )
            print("| command | wall | peak memory |\n| --- | --- | --- |")
            for m in rows:
                print(f"| {m.label} | {m.median:.2f} s | {m.rss / 1e6:.0f} MB |")
            ratios = {
                "warm / df": warm.median / df.median,
                "cold / df": cold.median / df.median,
                "floor / df": floor.median / df.median,
                "cold / floor": cold.median / floor.median,
                "naive / cold": naive.median / cold.median,
                "added / warm": added.median / warm.median,
                "added / new options": added.median / analysis.median,
                "removed / warm": removed.median / warm.median,
            }
            print("ratios: " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
            summary.append((n, warm.median, cold.median, df.median, warm.rss))
        for (n0, w0, c0, _, _), (n1, w1, c1, _, _) in itertools.pairwise(summary):
            per = 1000 / (n1 - n0)
            print(
                f"growth {n0} -> {n1} images, per 1,000 more: warm +{(w1 - w0) * per:.3f} s, cold +{(c1 - c0) * per:.3f} s"
            )
    finally:
        for path, mode in reversed(opened):
            os.chmod(path, mode)
        engine.stop()


def open_for(engine: PrivateEngine) -> list[tuple[Path, int]]:
    """Let others reach the engine's socket and enter the folders on the way to this Python; the old modes."""
    changed = []
    socket = Path(engine.folder) / "docker.sock"
    wanted = [(Path(engine.folder), 0o055), (socket, 0o066)]
    for start in (Path(sys.base_prefix), Path(sys.executable).resolve().parent, ROOT):
        wanted += [(folder, 0o001) for folder in reversed(start.parents)]
    for path, bits in wanted:
        mode = path.stat().st_mode & 0o7777
        if mode & bits != bits:
            changed.append((path, mode))
            os.chmod(path, mode | bits)
    return changed


if __name__ == "__main__":
    main()
