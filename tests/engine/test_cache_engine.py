"""The cache on a real engine: warm runs equal cold ones, ask only for lists, survive damage and company."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from engines import api_calls_since

from layershare.cache import ImageCache
from layershare.render.report_json import report_document
from layershare.report.analysis import build_report
from layershare.report.index import LayerIndex
from layershare.sources.engine import EngineSource

pytestmark = pytest.mark.engine


def report(engine: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "layershare", "report", "--format", "json", "--all", *args],
        env=engine.env(),
        capture_output=True,
        text=True,
        check=False,
    )


def figures(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    doc.pop("collected_at")
    return doc


def calls_since(engine: Any, mark: int) -> list[str]:
    return [f"{m} {p}" for m, p in api_calls_since(engine, mark)]


def per_image_calls(calls: list[str]) -> list[str]:
    return [c for c in calls if re.search(r"/images/sha256:[0-9a-f]+/(json|history)$", c)]


def api_figures(engine: Any, cache: Path | None) -> dict[str, Any]:
    """A report through the API alone (the engine's files unread), with or without a cache."""
    source = EngineSource(engine.host, read_layer_store=False, cache_dir=cache)
    doc = report_document(
        build_report(LayerIndex.from_snapshot(source.snapshot()), include_intermediate=True)
    )
    doc.pop("collected_at")
    return json.loads(json.dumps(doc))  # type: ignore[no-any-return]


def test_warm_equals_cold_and_asks_only_for_the_lists(engine: Any, tmp_path: Path) -> None:
    cache = tmp_path / "api-cache"
    uncached = api_figures(engine, None)
    mark = len(engine.log())
    cold = api_figures(engine, cache)
    assert len(per_image_calls(calls_since(engine, mark))) == 2 * len(cold["images"])
    mark = len(engine.log())
    warm = api_figures(engine, cache)
    assert per_image_calls(calls_since(engine, mark)) == []
    assert cold == warm == uncached
    # the command line, reading the engine's own files as root, agrees and asks for no image either
    cli_cache = tmp_path / "cli-cache"
    mark = len(engine.log())
    from_files = figures(report(engine, "--cache-dir", str(cli_cache)))
    assert per_image_calls(calls_since(engine, mark)) == []
    assert from_files["images"] == cold["images"]
    assert (
        figures(report(engine, "--cache-dir", str(cli_cache)))
        == from_files
        == figures(report(engine, "--no-cache"))
    )
    # other options miss the stored report but still find every image in the image cache
    by_size = figures(report(engine, "--cache-dir", str(cli_cache), "--sort", "size"))
    assert by_size == figures(report(engine, "--no-cache", "--sort", "size"))
    assert sorted(p.name.split("-")[0] for p in cli_cache.iterdir()) == ["images", "reports"]


def test_one_new_image_costs_one_inspect_and_one_history(engine: Any, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    api_figures(engine, cache)
    engine.docker(
        "build", "-q", "-t", "cache-new:1", "-", input_bytes=b"FROM distro-b:1\nRUN echo new > /new\n"
    )
    new_id = engine.docker("image", "inspect", "-f", "{{.Id}}", "cache-new:1").strip()
    try:
        mark = len(engine.log())
        warm = api_figures(engine, cache)
        calls = per_image_calls(calls_since(engine, mark))
        assert sorted(c.rsplit("/", 1)[1] for c in calls) == ["history", "json"]
        assert all(new_id in c for c in calls)
        assert warm == api_figures(engine, None)
    finally:
        engine.docker("rmi", "cache-new:1")
    # and once it is gone, the next warm run equals a cold one again
    assert api_figures(engine, cache) == api_figures(engine, None)


def test_a_stored_report_is_served_only_for_the_same_engine_state(engine: Any, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = report(engine, "--cache-dir", str(cache))
    second = report(engine, "--cache-dir", str(cache))
    assert figures(first) == figures(second)
    stamps = [json.loads(r.stdout)["collected_at"] for r in (first, second)]
    assert stamps[1] >= stamps[0]  # a stored report is stamped with the time it is served
    (folder,) = cache.glob("reports-*")
    (stored,) = folder.iterdir()
    stored.write_bytes(stored.read_bytes().replace(b'"images"', b'"imagez"'))  # damaged: not served
    assert figures(report(engine, "--cache-dir", str(cache))) == figures(first)
    engine.docker("tag", "distro-b:1", "cache-retag:1")  # a new tag changes the state
    try:
        retagged = figures(report(engine, "--cache-dir", str(cache)))
        assert retagged == figures(report(engine, "--no-cache"))
        assert any("cache-retag:1" in i["tags"] for i in retagged["images"])
    finally:
        engine.docker("rmi", "cache-retag:1")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_a_damaged_cache_is_rebuilt_not_trusted(engine: Any, tmp_path: Path, damage: str) -> None:
    cache = tmp_path / "cache"
    figures(report(engine, "--cache-dir", str(cache)))
    truth = figures(report(engine, "--no-cache", "--sort", "size"))
    (path,) = cache.glob("images-*.json")
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff" * 100)
    else:  # a changed size inside an otherwise well-formed file
        path.write_bytes(re.sub(rb'"Size":(\d+)', rb'"Size":9\1', data, count=3))
    # other options than the stored report's, so the damaged image cache is what is read
    assert figures(report(engine, "--cache-dir", str(cache), "--sort", "size")) == truth
    key = path.name.removeprefix("images-").removesuffix(".json")
    assert len(ImageCache(cache, key).load()) >= 20  # rewritten whole


def test_runs_at_the_same_time_agree_and_leave_a_valid_cache(engine: Any, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = [
        sys.executable,
        "-m",
        "layershare",
        "report",
        "--format",
        "json",
        "--all",
        "--cache-dir",
        str(cache),
    ]
    runs = [
        subprocess.Popen(args, env=engine.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [run.communicate() for run in runs]
    docs = []
    for (out, err), run in zip(outputs, runs, strict=True):
        assert run.returncode == 0, err
        doc = json.loads(out)
        doc.pop("collected_at")
        docs.append(doc)
    assert all(doc == docs[0] for doc in docs)
    (path,) = cache.glob("images-*.json")
    key = path.name.removeprefix("images-").removesuffix(".json")
    assert len(ImageCache(cache, key).load()) == len(docs[0]["images"])
    assert figures(report(engine, "--cache-dir", str(cache))) == docs[0]


def test_the_cache_holds_no_secret_and_show_values_bypasses_it(engine: Any, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    figures(report(engine, "--cache-dir", str(cache)))
    text = b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())
    for secret in (b"s3cr3t-value", b"dont-print-me", b"hunter2", b"abc123"):
        assert secret not in text
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "layershare",
            "history",
            "app-one:1",
            "--show-values",
            "--cache-dir",
            str(cache),
        ],
        env=engine.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "dont-print-me" in shown.stdout
    assert b"dont-print-me" not in b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())


def test_heavy_imports_only_when_needed(engine: Any, tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from layershare.cli import main\n"
        "sys.argv = ['layershare', *sys.argv[1:]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('pandas' in sys.modules, 'docker' in sys.modules, file=sys.stderr)\n"
    )

    def imported(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", probe, *args], env=engine.env(), capture_output=True, text=True, check=True
        )
        return result.stderr.strip().splitlines()[-1]

    cache = str(tmp_path / "cache")
    assert imported("--help") == "False False"
    # A local socket never needs the Docker SDK; pandas only when the analysis runs.
    assert imported("report", "--cache-dir", cache) == "True False"  # cold: the analysis runs
    assert imported("report", "--cache-dir", cache) == "False False"  # warm, unchanged: stored report
