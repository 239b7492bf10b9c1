"""``layershare browse``: how soon the status line is there, how long a key takes, how much memory.

    python benchmarks/browse.py [--images 1000] [--keys-images 10000] [--runs 5] [--dockerd PATH]
                                [--containerd-store]

1. A private engine holds ``--images`` of the seeded host (``host_corpus.py``); one ``layershare report``
   fills the cache first (as after a report). Then, side by side, the median of ``--runs`` of:
   ``docker system df -v`` (the baseline); ``layershare report --format json``; and ``layershare
   browse`` in a real terminal (a tmux pane, 120x40), from the start of the process to the status
   line on screen, and to every size of the disk view filled in (the walk done); warm (the cache
   filled by a report), then cold (a new cache folder for each run). Targets: status line within 3x
   ``docker system df -v``; every size within the report's own time (warm or cold) + 0.3 s.
2. ``--keys-images`` images of the same host's shape (its layers, shared as they are) as an engine
   state, in the app headless: each key's handling and one full render of the screen (an upper
   bound of what a terminal redraws), median over 30 presses of each key. Target: under 50 ms.
3. The same app in a child process, a few keys pressed: its peak resident memory. Target: 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "examples")]

from devengine import PrivateEngine, start_private_engine  # noqa: E402
from host_corpus import images, load_host  # noqa: E402
from machine import describe_machine  # noqa: E402

from layershare.model import EngineImage, EngineInfo, EngineState, StoredUnit  # noqa: E402

LAYERSHARE = [sys.executable, "-m", "layershare"]


def host_state(count: int, seed: int = 1) -> EngineState:
    """The seeded host's first ``count`` images as an engine state: each layer a unit (keyed by its chain,
    weighed by its tar's length), held by every image built on it."""
    units: dict[str, StoredUnit] = {}
    found = []
    for n, image in enumerate(images(seed, 0, count)):
        chain, holds = "", []
        for step in image.steps:
            if step.layer is None:
                continue
            chain = hashlib.sha256(f"{chain} {hashlib.sha256(step.layer).hexdigest()}".encode()).hexdigest()
            key = f"layer:sha256:{chain}"
            units.setdefault(key, StoredUnit(key, "layer", len(step.layer), None, counted_with_images=True))
            holds.append(key)
        found.append(EngineImage(f"sha256:{n:064x}", (image.tag,), float(n), holds=tuple(holds)))
    engine = EngineInfo(host="unix:///benchmark", version="29.7.2", api_version="1.52",
                        image_store="graphdriver", storage_driver="overlay2")  # fmt: skip
    return EngineState(engine, tuple(found), (), (), (), units, {}, "1.52", False)


# --- 1. a real engine, a real terminal ---


def run(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def browse_in_tmux(engine: PrivateEngine, view: str, cache: str) -> tuple[float, float]:
    """Seconds from the start of ``layershare browse`` to its status line, and to every size filled in."""
    name = f"bench{os.getpid()}"
    names = {k: v for k, v in engine.env().items() if k.startswith("DOCKER")}
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {**names, "LAYERSHARE_CACHE_DIR": cache}.items())
    command = f"env {env} {shlex.join([*LAYERSHARE, 'browse', view])} > /dev/null 2>&1; sleep 60"
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40", command], check=True)
    status = filled = 0.0
    try:
        while time.perf_counter() - start < 300:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True,
                                    text=True, check=True).stdout  # fmt: skip
            now = time.perf_counter() - start
            if not status and "Marked 0 · frees" in screen:
                status = now
            if status and "sizing…" not in screen:
                filled = now
                break
            time.sleep(0.005)
        subprocess.run(["tmux", "send-keys", "-t", name, "q"], check=True)
    finally:
        time.sleep(0.3)
        subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True)
    return status, filled


def engine_part(images_count: int, runs: int, dockerd: str | None, containerd: bool) -> None:
    engine = start_private_engine(dockerd=dockerd, containerd_store=containerd)
    try:
        print(describe_machine(engine))
        load_host(engine, 0, images_count)
        warm = tempfile.mkdtemp(prefix="browse-bench-")
        env = {**os.environ, **engine.env(), "LAYERSHARE_CACHE_DIR": warm}
        os.environ.update(env)
        run([*LAYERSHARE, "report", "--format", "json"], env)  # the cache, as after a report
        df = statistics.median(run(["docker", "system", "df", "-v"], env) for _ in range(runs))
        report = statistics.median(run([*LAYERSHARE, "report", "--format", "json"], env) for _ in range(runs))
        shots = [browse_in_tmux(engine, "disk", warm) for _ in range(runs)]
        status = statistics.median(s for s, _ in shots)
        filled = statistics.median(f for _, f in shots)
        # Cold: a cache folder of its own for each run (the engine's own caches are warm either way).
        cold_report = statistics.median(
            run(
                [*LAYERSHARE, "report", "--format", "json"],
                {**env, "LAYERSHARE_CACHE_DIR": tempfile.mkdtemp()},
            )
            for _ in range(runs)
        )
        cold = [browse_in_tmux(engine, "disk", tempfile.mkdtemp(prefix="browse-cold-")) for _ in range(runs)]
        cold_status = statistics.median(s for s, _ in cold)
        cold_filled = statistics.median(f for _, f in cold)
        print(f"\n{images_count:,} images, median of {runs}:")
        print(f"  docker system df -v              {df:7.2f} s   (baseline)")
        for label, rep, st, fi in (
            ("warm", report, status, filled),
            ("cold", cold_report, cold_status, cold_filled),
        ):
            print(f"  {label}: layershare report         {rep:7.2f} s")
            print(f"  {label}: browse, the status line   {st:7.2f} s   {st / df:5.2f}x df   (target <= 3x)")
            print(f"  {label}: browse, every size        {fi:7.2f} s   report + {fi - rep:+.2f} s   "
                  "(target <= report + 0.3 s)")  # fmt: skip
    finally:
        engine.stop()


# --- 2 and 3. keys and memory at 10,000 images ---


async def key_times(count: int, presses: int = 30) -> dict[str, float]:
    from layershare.browse.app import BrowseApp
    from layershare.browse.marks import Marks
    from layershare.browse.session import EngineView
    from layershare.browse.tree import EngineTree

    state = host_state(count)
    app = BrowseApp([lambda: EngineView("benchmark", EngineTree(state), Marks(state))], view="images")
    times: dict[str, list[float]] = {"move (j)": [], "mark (Space)": [], "sort (s)": [], "mark all (A)": []}
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.loaded:
            await pilot.pause(0.01)
        actions = {
            "move (j)": lambda: app.action_move(1),
            "mark (Space)": app.action_mark,
            "sort (s)": app.action_sort,
            "mark all (A)": app.action_mark_all,
        }
        for label, act in actions.items():
            for _ in range(presses if label != "mark all (A)" else 4):
                start = time.perf_counter()
                act()
                app.export_screenshot()  # one full render of the screen
                times[label].append(time.perf_counter() - start)
        await pilot.press("q")
    return {label: statistics.median(t) for label, t in times.items()}


def memory_child(count: int) -> None:
    asyncio.run(key_times(count, presses=3))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def keys_part(count: int) -> None:
    print(f"\n{count:,} images (the host's shape, {len(host_state(count).units):,} layers), headless, "
          "each key handled and the screen rendered once, median:")  # fmt: skip
    for label, seconds in asyncio.run(key_times(count)).items():
        target = "" if label.startswith(("mark all", "sort")) else f"   {seconds * 1000 / 50:5.2f}x 50 ms"
        print(f"  {label:<14} {seconds * 1000:8.1f} ms{target}")
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(count)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    peak = int(out.strip().splitlines()[-1])
    print(f"  peak memory    {peak / 1e6:8.1f} MB   {peak / 300e6:5.2f}x 300 MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--keys-images", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dockerd")
    parser.add_argument("--containerd-store", action="store_true")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    if args.images:
        engine_part(args.images, args.runs, args.dockerd, args.containerd_store)
    else:
        print(describe_machine(None))
    keys_part(args.keys_images)


if __name__ == "__main__":
    main()
