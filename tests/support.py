"""What every tier of the tests shares: the one skip-or-fail rule, the one way to run layershare as a
process, and where the repository's files are."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
DATA = ROOT / "tests" / "data"
RECORDINGS = sorted(DATA.glob("corpus-engine-*.json"))
RECORDING = RECORDINGS[0]
CONTAINERD_STORE = DATA / "containerd-store-26.1"  # a recorded containerd image store
ENGINE_26 = ROOT / ".cache" / "engines" / "docker-26.1" / "usr" / "sbin" / "dockerd"
ENGINE_29 = ROOT / ".cache" / "engines" / "docker-29.7.2" / "docker" / "dockerd"  # Docker's static bundle
ENGINE_28 = ROOT / ".cache" / "engines" / "docker-28.5" / "usr" / "sbin" / "dockerd"  # Debian sid's


def need(condition: bool, why: str) -> None:
    """The suite's one rule for what a test needs from the machine: without it the test skips with
    one line that says why, except in CI (``CI`` set), where it fails."""
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on a thread of its own, with its own event loop: the page tests' Playwright
    (sync API) keeps an event loop running on the main thread for the whole session, where asyncio.run
    refuses to start a second one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def layershare(
    *args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m layershare ARGS`` as a separate process: for what only a process proves (exit codes
    through the interpreter, other users, packaging). Everything else runs in-process (``cli`` below)."""
    return subprocess.run(
        [sys.executable, "-m", "layershare", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


@dataclass(frozen=True)
class Ran:
    """What a run of the command line left: the same names as a finished process has."""

    returncode: int
    stdout: str
    stderr: str


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None, stdin: str | None = None
) -> Ran:
    """``layershare ARGS`` in this process, through click's test runner: ``env`` is laid over the
    environment for the call, ``cwd`` is the working folder during it. An exception the command does
    not turn into one line and an exit code fails the test with its traceback."""
    from click.testing import CliRunner

    from layershare.cli import cli as group

    previous = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(
            group, list(args), env=env, input=stdin, prog_name="layershare", catch_exceptions=False
        )
    finally:
        os.chdir(previous)
    return Ran(result.exit_code, result.stdout, result.stderr)


# The docker CLI each engine is driven with (the folder first on PATH; None: PATH's own): CLI 29.7.2 from
# the bundle (API 1.55), Debian sid's 28.5 CLI (1.51), and Debian's 20.10 CLI (1.41) against Engine 29's
# overlay2 store, as the removal matrix asks (Engine 29 then serves API 1.41: DOCKER_MIN_API_VERSION).
ENGINE_CLIENTS = {
    "28.5-overlay2": ENGINE_28.parent.parent / "bin",
    "28.5-containerd": ENGINE_28.parent.parent / "bin",
    "29.7-overlay2": Path("/usr/bin"),
    "29.7-containerd": ENGINE_29.parent,
}

# The engines the tests start: kind -> (dockerd, image store).
ENGINE_KINDS = {
    "20.10-overlay2": (None, False),
    "26.1-overlay2": (ENGINE_26, False),
    "26.1-containerd": (ENGINE_26, True),
    "28.5-overlay2": (ENGINE_28, False),
    "28.5-containerd": (ENGINE_28, True),
    "29.7-overlay2": (ENGINE_29, False),
    "29.7-containerd": (ENGINE_29, True),
}


def start_engine(kind: str = "20.10-overlay2", *, buildkit: bool = False, **options: Any) -> Any:
    """Start a private engine of ``kind`` (debug log on) after the one skip-or-fail rule; the caller
    stops it. ``buildkit``: the test builds with Debian's 20.10 CLI, which builds with BuildKit.
    ``options`` go to :func:`devengine.start_private_engine` (``tcp``, ``extra_args``)."""
    from devengine import start_private_engine

    dockerd, containerd = ENGINE_KINDS[kind]
    need(
        os.geteuid() == 0 and shutil.which("dockerd") is not None,
        "engine tests need root and dockerd (apt-get install docker.io)",
    )
    need(dockerd is None or dockerd.exists(), f"{kind} is not unpacked (run .ci/engine-{kind.split('-')[0]})")
    need(
        not buildkit or Path("/usr/bin/docker").exists(),
        "these engine tests need Debian's docker.io (its 20.10 CLI builds with BuildKit)",
    )
    options.setdefault("client", ENGINE_CLIENTS.get(kind))
    if kind.startswith("29."):
        options.setdefault("extra_env", {"DOCKER_MIN_API_VERSION": "1.41"})
    engine = start_private_engine(dockerd=dockerd, containerd_store=containerd, debug=True, **options)
    engine.containerd = containerd
    engine.kind = kind
    return engine


@contextmanager
def private_engine(
    kind: str = "20.10-overlay2",
    *,
    corpus: bool = True,
    build: Callable[[Any], None] | None = None,
    buildkit: bool = False,
    **options: Any,
) -> Iterator[Any]:
    """The tests' one engine launcher as a context: :func:`start_engine`, holding the example images
    unless ``corpus`` is False and what ``build(engine)`` adds; stopped afterwards."""
    from corpus import build_corpus

    engine = start_engine(kind, buildkit=buildkit, **options)
    try:
        if corpus:
            build_corpus(engine.docker)
        if build is not None:
            build(engine)
        yield engine
    finally:
        engine.stop()
