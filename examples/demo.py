"""``make report``: a real layershare report on this machine.

If a Docker engine is reachable (DOCKER_HOST or the default socket), report on
it. Otherwise, where this machine can run one (root and ``dockerd``), start a
private throwaway engine, build the example images of ``examples/corpus.py``
into it, report on that, and stop it again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docker
import docker.errors


def engine_reachable() -> bool:
    """True when the environment's engine answers a ping."""
    try:
        return bool(docker.from_env(timeout=5).ping())
    except (docker.errors.DockerException, OSError):
        return False


def report(extra_env: dict[str, str] | None = None) -> int:
    """Run ``layershare report``; return its exit code."""
    env = dict(os.environ, **(extra_env or {}))
    return subprocess.run(
        [sys.executable, "-m", "layershare", "report", *sys.argv[1:]], env=env, check=False
    ).returncode


def main() -> int:
    if engine_reachable():
        return report()
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        print(
            "demo: no Docker engine is reachable and this machine cannot start a private one "
            "(needs root and dockerd); set DOCKER_HOST to an engine",
            file=sys.stderr,
        )
        return 3
    from corpus import build_corpus
    from devengine import start_private_engine

    print(
        "demo: no engine reachable; starting a private throwaway engine with the example images",
        file=sys.stderr,
    )
    engine = start_private_engine()
    try:
        build_corpus(engine.docker)
        return report({"DOCKER_HOST": engine.host})
    finally:
        engine.stop()


if __name__ == "__main__":
    sys.exit(main())
