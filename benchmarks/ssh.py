"""``layershare report`` against a remote engine over ssh, side by side with ``docker system df -v`` over
the same ssh.

    python benchmarks/ssh.py [--images 1000] [--runs 5]

Starts a private engine (Engine 20.10, overlay2) holding the example images and the seeded host of
``host_corpus.py`` (``--images`` of them), a private sshd on loopback in front of it
(``examples/devsshd.py``: a throwaway key, the client's ``ssh`` given ``-F`` a config of its own),
and runs, as whole processes with ``DOCKER_HOST=ssh://lsremote`` (an alias whose port only that
config names), the median of ``--runs`` of:

- ``docker system df -v`` (the docker CLI over ssh: the baseline);
- ``layershare report --format json`` cold (an empty cache folder each run);
- ``layershare report --format json`` warm (the cache filled, nothing changed).

It prints each median and the ratios the targets are stated in (warm at most 1.5x, cold at most 3x),
checks that the report over ssh equals the one over the engine's socket, and counts the ssh processes
a cold run starts (never one per request).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "examples"))

from corpus import build_corpus  # noqa: E402
from devengine import start_private_engine  # noqa: E402
from devsshd import start_private_sshd  # noqa: E402
from host_corpus import load_host  # noqa: E402
from machine import describe_machine  # noqa: E402
from scale import comparable, differences, measure, run_with_rusage  # noqa: E402


def figures(report_json: str) -> dict[str, object]:
    """A report's totals and each image's SIZE, SHARED and UNIQUE."""
    doc = json.loads(report_json)
    images = {i["id"]: (i["size_bytes"], i["shared_bytes"], i["unique_bytes"]) for i in doc["images"]}
    return {"totals": doc["totals"], "images": images}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="seeded host images (default 1000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median; default 5)")
    options = parser.parse_args()
    engine = start_private_engine()
    sshd = None
    try:
        build_corpus(engine.docker)
        load_host(engine, 0, options.images)
        sshd = start_private_sshd(engine.host)
        print(describe_machine(engine))
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "ssh.log"
            wrapper = sshd.folder / "bin" / "ssh"  # the same ssh, each start logged
            wrapper.write_text(f"#!/bin/sh\necho start >> {log}\n" + wrapper.read_text().split("\n", 1)[1])
            env = sshd.env(DOCKER_HOST="ssh://lsremote")
            cache = Path(tmp) / "cache"
            report = [sys.executable, "-m", "layershare", "report", "--format", "json", "--quiet"]
            df, _ = measure("docker system df -v (over the same ssh)", ["docker", "system", "df", "-v"], env,
                            options.runs)  # fmt: skip
            log.unlink(missing_ok=True)
            cold, cold_out = measure("layershare cold (empty cache)", [*report, "--cache-dir", str(cache)], env,
                                     options.runs, before=["rm", "-rf", str(cache)])  # fmt: skip
            processes = len(log.read_text().splitlines()) // options.runs
            warm, warm_out = measure("layershare warm (cache filled)", [*report, "--cache-dir", str(cache)], env,
                                     options.runs)  # fmt: skip
            _, _, local = run_with_rusage([*report, "--no-cache"], engine.env())
        # Over ssh no file of the engine's host is read: the engine's answers alone, as the docker group
        # has them (a layer the answers leave in doubt is marked estimated); the figures are the same.
        ours, theirs = (figures(out) for out in (cold_out, local))
        if ours != theirs or comparable(cold_out) != comparable(warm_out):
            raise SystemExit(f"the report over ssh differs from the socket's, or warm from cold: "
                             f"{differences(theirs, ours)[:8]}")  # fmt: skip
        images = json.loads(cold_out)["totals"]["images"]
        print(
            f"\n{images} images over ssh (median of {options.runs}; a cold run starts {processes} ssh processes):"
        )
        print("| command | wall | peak memory |\n| --- | --- | --- |")
        for m in (df, cold, warm):
            print(f"| {m.label} | {m.median:.2f} s | {m.rss / 1e6:.0f} MB |")
        print(f"ratios: warm / df = {warm.median / df.median:.2f} (target 1.5), "
              f"cold / df = {cold.median / df.median:.2f} (target 3)")  # fmt: skip
    finally:
        if sshd is not None:
            sshd.stop()
        engine.stop()
        time.sleep(0.1)
        os.environ.pop("DOCKER_HOST", None)


if __name__ == "__main__":
    main()
