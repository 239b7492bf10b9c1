"""What the engine tests share: the one engine launcher, the engine's own accounting, its debug log,
the CLI against an engine (in this process) and as another user (a process that drops root)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
from support import ROOT, Ran, private_engine
from support import cli as in_process


def engine_with_state(kind: str, build: Callable[[Any], None]) -> Iterator[Any]:
    """A private engine of ``kind`` holding the example images and what ``build(engine)`` adds with
    Debian's 20.10 CLI (BuildKit), for a module's fixture."""
    with private_engine(kind, build=build, buildkit=True) as engine:
        yield engine


def layer_store(engine: Any) -> dict[str, int]:
    """Every layer of the engine's graphdriver layer store on disk: chain ID -> size."""
    root = Path(engine.data_root) / "image" / "overlay2" / "layerdb" / "sha256"
    return {f"sha256:{d.name}": int((d / "size").read_text()) for d in root.iterdir()}


def system_df(engine: Any) -> dict[str, Any]:
    """``GET /system/df``: what ``docker system df -v`` prints."""
    for attempt in range(5):  # Engine 28.5 answers 404 when a snapshot goes away while it counts
        try:
            result: dict[str, Any] = docker.APIClient(base_url=engine.host, version="auto").df()
            return result
        except docker.errors.NotFound:
            if attempt == 4:
                raise
            time.sleep(0.3)
    raise AssertionError("unreachable")


def df_total(engine: Any) -> int:
    """What ``docker system df`` sums: LayersSize, writable layers, volumes, the unshared build cache."""
    df = system_df(engine)
    return (
        int(df["LayersSize"])
        + sum(int(c.get("SizeRw") or 0) for c in df["Containers"])
        + sum(int(v["UsageData"]["Size"]) for v in df["Volumes"])
        + sum(int(r["Size"]) for r in df.get("BuildCache") or [] if not r["Shared"])
    )


def cli(engine: Any, *args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None) -> Ran:
    """``layershare ARGS`` against the engine, in this process (:func:`support.cli`); ``env`` on top."""
    return in_process(*args, env={**engine.env(), **(env or {})}, cwd=cwd)


def api_calls_since(engine: Any, mark: int) -> list[tuple[str, str]]:
    """(method, path) of every API call dockerd logged (``--debug``) after ``mark`` characters of log."""
    # 20.10 and 26.1 log "Calling GET /v1.41/...", 28 and later "handling GET request" method=GET
    # module=api request-url=/v1.51/... (quoted where it has a query: request-url="/v1.55/images/json?all=1")
    pattern = r"Calling (\w+) ([^\s\"]+)|handling \w+ request\" method=(\w+) [^\n]*?request-url=\"?([^\s\"]+)"
    return [(a or c, b or d) for a, b, c, d in re.findall(pattern, engine.log()[mark:])]


# Python code that imports every layershare module (and what they import), for a child process about to
# drop root: after os.setuid the Python install and the clone may not be readable (a mode-700 folder).
IMPORT_EVERYTHING = (
    "import importlib, json, csv, pkgutil, tabulate, layershare\n"
    "for module in pkgutil.walk_packages(layershare.__path__, 'layershare.'):\n"
    "    if not module.name.endswith('__main__'):\n"
    "        importlib.import_module(module.name)\n"
)


@contextmanager
def open_to_others(engine: Any) -> Iterator[None]:
    """For a while, what uid 65534 needs: the engine's socket (as the docker group has it) and the search
    bit on the clone's folders (it may sit in a mode-700 folder such as ``mktemp -d`` makes; its .venv's
    libraries load some modules lazily, pandas' ``to_dict`` among them), as a user's own install has."""
    closed = [p for p in ROOT.parents if p != Path("/") and not os.stat(p).st_mode & 0o001]
    if engine is not None:
        os.chmod(engine.folder, 0o755)
        os.chmod(Path(engine.folder) / "docker.sock", 0o666)
    modes = {p: os.stat(p).st_mode & 0o7777 for p in closed}
    for path, mode in modes.items():
        os.chmod(path, mode | 0o001)
    try:
        yield
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
        if engine is not None and Path(engine.folder).exists():
            os.chmod(Path(engine.folder) / "docker.sock", 0o660)
            os.chmod(engine.folder, 0o700)


def unprivileged_script(args: list[str]) -> str:
    """Python that imports every layershare module, drops to uid 65534 and runs ``layershare ARGS``."""
    return (
        "import os, sys\n" + IMPORT_EVERYTHING + "import layershare.cli\n"
        "os.setgid(65534); os.setuid(65534)\n"
        f"sys.argv = {['layershare', *args]!r}\nlayershare.cli.main()\n"
    )


def run_unprivileged(
    engine: Any, args: list[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``layershare ARGS`` as uid 65534, who may open the engine's socket but not read its data root
    (``engine`` None: no engine, for a source read from files). Every layershare module is imported
    before dropping root."""
    with open_to_others(engine):
        base = engine.env() if engine is not None else dict(os.environ)
        full_env = {**base, "HOME": "/nonexistent", **(env or {})}
        script = unprivileged_script(args)
        return subprocess.run([sys.executable, "-c", script], env=full_env, capture_output=True, text=True)


def run_unprivileged_python(
    engine: Any, code: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Python ``code`` as uid 65534 (as :func:`run_unprivileged`, every layershare module imported first)."""
    with open_to_others(engine):
        full_env = {**engine.env(), "HOME": "/nonexistent", **(env or {})}
        script = "import os\n" + IMPORT_EVERYTHING + "os.setgid(65534); os.setuid(65534)\n" + code
        return subprocess.run([sys.executable, "-c", script], env=full_env, capture_output=True, text=True)


def image_lists_asked(engine: Any, mark: int) -> int:
    """How many image lists (``GET /images/json``) were asked since ``mark``: the log is read once a
    call made afterwards (``docker volume ls``) is in it, as dockerd writes its log a little after it
    answers."""
    engine.docker("volume", "ls", "-q")
    deadline = time.monotonic() + 30
    calls = api_calls_since(engine, mark)
    while not any(path.endswith("/volumes") for _, path in calls):
        assert time.monotonic() < deadline, calls
        time.sleep(0.1)
        calls = api_calls_since(engine, mark)
    return sum(1 for _, path in calls if re.search(r"/images/json\b", path))


def warm_reports_without_the_image_list(engine: Any, cache: Path) -> None:
    """As root on the containerd store, an unchanged engine's report is served from the cache by a digest
    of containerd's own records (images, content, snapshots), so the engine is not asked for its image
    list, which it sizes image by image (a graphdriver store's digest is still made of that list, asked
    once per run). A report served so is the uncached one, and a tag, a removal or a new image's
    content makes the next one collected afresh."""

    def report(*cache: str) -> dict[str, Any]:
        result = cli(engine, "report", "-f", "json", "--all", *cache)
        assert result.returncode == 0, result.stderr
        doc: dict[str, Any] = json.loads(result.stdout)
        doc.pop("collected_at")
        return doc

    def cached() -> dict[str, Any]:
        return report("--cache-dir", str(cache))

    def fresh() -> dict[str, Any]:
        return report("--no-cache")

    from_records = engine.containerd and engine.kind.startswith("29.")
    first = cached()
    mark = len(engine.log())
    warm = cached()
    # overlay2 lists its images quickly: its digest is still made of the engine's list
    assert image_lists_asked(engine, mark) == (0 if engine.containerd else 1)
    assert warm == first == fresh()
    tagged = next(i for i in first["images"] if i["tags"])["tags"][0]
    engine.docker("tag", tagged, "warm-retag:1")
    try:
        mark = len(engine.log())
        retagged = cached()
        # The records changed: collected again, with the engine's list (or, on Engine 29.6 and later,
        # one made from the records themselves).
        assert image_lists_asked(engine, mark) == (0 if from_records else 1)
        assert any("warm-retag:1" in i["tags"] for i in retagged["images"]) and retagged == fresh()
    finally:
        engine.docker("rmi", "warm-retag:1")
    assert cached() == fresh() == first
    engine.docker(
        "build", "-q", "-t", "warm-new:1", "-", input_bytes=f"FROM {tagged}\nLABEL warm=new\n".encode()
    )
    try:
        added = cached()
        assert any("warm-new:1" in i["tags"] for i in added["images"]) and added == fresh()
        mark = len(engine.log())
        assert cached() == added and image_lists_asked(engine, mark) == (0 if engine.containerd else 1)
    finally:
        engine.docker("rmi", "warm-new:1")
    mark = len(engine.log())
    assert cached() == first  # back to the first state: its stored report, without the list
    assert image_lists_asked(engine, mark) == (0 if engine.containerd else 1)
