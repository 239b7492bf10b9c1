"""Four ways to free space on one host, side by side, with the engine's own figures:
``layershare plan``, kubelet's image GC rule, docuum's rule, and ``docker system prune -a``.

    python examples/gc_compare.py [--dockerd PATH] [--containerd-store]

Starts a private engine (root), builds a small host with the classic builder (a base four apps stand
on, each app built in two steps so that untagged parents hold its first step, two lone images, an app
a stopped container uses), one image every 1.1 s so that each is used at its own time, then:

1. the target: free a third of what the images hold (``LayersSize``);
2. ``layershare plan --free TARGET --min-age 0``: what it chooses and frees (exact);
3. kubelet's rule (``pkg/kubelet/images/image_gc_manager.go``, ``freeSpace``): the same least
   recently used order, adding each image's own ``Size`` (shared layers counted in every image)
   until the sum reaches the target; what that choice really frees is ``layershare free``'s figure;
4. ``docker system prune -a``: ``layershare free --like``'s figure;
5. docuum's rule (``src/run.rs``, ``vacuum``), really run, last: threshold = ``LayersSize`` less the
   target; in the same order, ``docker image rm --force --no-prune`` one image at a time, reading
   ``docker system df``'s rounded images figure after each, until it is at most the threshold; the
   drop is ``/system/df``'s.

Every order is the same (layershare's last-used order), so that what differs is the accounting.
Prints a Markdown table; the figures in docs/plan.md come from it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from corpus import busybox_rootfs  # noqa: E402
from devengine import PrivateEngine, start_private_engine  # noqa: E402

UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def build(engine: PrivateEngine, tag: str, dockerfile: str) -> None:
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(dockerfile)
        engine.docker("build", "-q", "-t", tag, ctx)
    time.sleep(1.1)  # each image its own creation second: its own place in the order


def random_file(path: str, kilobytes: int) -> str:
    return f"RUN dd if=/dev/urandom of={path} bs=1000 count={kilobytes} 2>/dev/null\n"


def build_host(engine: PrivateEngine) -> None:
    engine.docker("import", "--change", "ENV PATH=/bin", "-", "os:1",
                  input_bytes=busybox_rootfs({"etc/os-release": b"ID=compare\n"}))  # fmt: skip
    build(engine, "base:1", "FROM os:1\n" + random_file("/base.bin", 4000))
    for n, size in enumerate((800, 1200, 1600, 2000), start=1):
        steps = random_file(f"/deps{n}.bin", size) + random_file(f"/app{n}.bin", size // 4)
        build(engine, f"app{n}:1", "FROM base:1\n" + steps)
    build(engine, "lone1:1", "FROM os:1\n" + random_file("/lone1.bin", 3000))
    build(engine, "lone2:1", "FROM os:1\n" + random_file("/lone2.bin", 2500))
    build(engine, "served:1", "FROM base:1\n" + random_file("/served.bin", 900))
    engine.docker("create", "--name", "served-box", "--network", "none", "served:1", "true")


def layershare(engine: PrivateEngine, *args: str) -> dict[str, Any]:
    ran = subprocess.run([sys.executable, "-m", "layershare", *args, "--format", "json", "--no-cache"],
                         env=engine.env(), capture_output=True, text=True, check=False)  # fmt: skip
    if ran.returncode not in (0, 8):
        raise SystemExit(ran.stderr)
    found: dict[str, Any] = json.loads(ran.stdout)
    return found


def layers_size(engine: PrivateEngine) -> int:
    """The engine's own ``LayersSize`` (``GET /system/df``), exact."""
    import docker

    with docker.APIClient(base_url=engine.host) as api:
        return int(api.df()["LayersSize"])


def df_images_figure(engine: PrivateEngine) -> float:
    """What docuum reads: ``docker system df``'s images row, as printed (rounded), in bytes."""
    for line in engine.docker("system", "df", "--format", "{{json .}}").splitlines():
        row = json.loads(line)
        if row["Type"] == "Images":
            number, unit = re.fullmatch(r"([\d.]+)\s*([kKMGT]?B)", row["Size"].strip()).groups()  # type: ignore[union-attr]
            return float(number) * UNITS[unit]
    raise SystemExit("docker system df printed no Images row")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dockerd", help="another dockerd binary")
    parser.add_argument("--containerd-store", action="store_true")
    options = parser.parse_args()
    engine = start_private_engine(dockerd=options.dockerd, containerd_store=options.containerd_store)
    try:
        build_host(engine)
        total = layers_size(engine)
        target = total // 3
        every = layershare(engine, "plan", "--free", "1PB", "--min-age", "0")
        order = [(i["id"], i["tags"]) for i in every["items"]]
        sizes = {i["Id"]: int(i["Size"]) for i in json.loads(engine.docker("image", "inspect",
                                                                           *[o[0] for o in order]))}  # fmt: skip
        rows: list[list[str]] = []

        plan = layershare(engine, "plan", "--free", str(target), "--min-age", "0")
        rows.append(["layershare plan", str(len(plan["items"])), f"{plan['freed_bytes']:,}",
                     f"{plan['freed_bytes']:,}", "met" if plan["reached"] else "missed"])  # fmt: skip

        claimed, chosen = 0, []
        for image_id, _ in order:
            if claimed >= target:
                break
            chosen.append(image_id)
            claimed += sizes[image_id]
        kubelet = layershare(engine, "free", *chosen)
        rows.append(["kubelet's rule", str(len(chosen)), f"{claimed:,}", f"{kubelet['freed_bytes']:,}",
                     "met" if kubelet["freed_bytes"] >= target else "missed"])  # fmt: skip

        prune = layershare(engine, "free", "--like", "docker system prune -a -f")
        gone = [i for i in prune["images"] if i.get("removed")]
        rows.append(["docker system prune -a", str(len(gone)), "-", f"{prune['freed_bytes']:,}",
                     "met" if prune["freed_bytes"] >= target else "missed"])  # fmt: skip

        under = layershare(engine, "plan", "--images-under", str(total - target), "--min-age", "0")
        threshold = total - target
        before, reads, deleted, started = total, 0, 0, time.perf_counter()
        for image_id, _ in order:
            engine.docker("image", "rm", "--force", "--no-prune", image_id)
            deleted += 1
            reads += 1
            if df_images_figure(engine) <= threshold:
                break
        after = layers_size(engine)
        rows.append([f"docuum's rule (run, {reads} df reads in {time.perf_counter() - started:.1f} s)",
                     str(deleted), "-", f"{before - after:,}",
                     "met" if after <= threshold else f"missed: LayersSize {after:,} > {threshold:,}"])  # fmt: skip
        rows.append(["layershare plan --images-under (same threshold)", str(len(under["items"])),
                     f"{under['freed_bytes']:,}", "-", "met" if under["reached"] else "missed"])  # fmt: skip

        print(f"LayersSize {total:,} B; target: free {target:,} B (docuum: images at most {threshold:,} B)\n")
        print(
            "| rule | images removed | bytes it expects to free | bytes freed (engine's accounting) | target |"
        )
        print("| --- | ---: | ---: | ---: | --- |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    finally:
        engine.stop()


if __name__ == "__main__":
    main()
