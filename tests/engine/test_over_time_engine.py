"""Over time, on real engines: ``diff`` against the engine's own sizes and layer store, ``check
--baseline``, and the metrics (``metrics`` against ``/system/df``; a real Prometheus scraping
``layershare serve``; ``serve`` through the engine going away and coming back)."""

from __future__ import annotations

import itertools
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import cli, layer_store, system_df
from prometheus_client.parser import text_string_to_metric_families

from layershare.diff.images import ImageDiff
from layershare.diff.sides import Sides, compare
from layershare.sources.choice import SourceChoice, open_source

pytestmark = pytest.mark.engine


def inspect(engine: Any, reference: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(engine.docker("image", "inspect", reference))[0]
    return result


@pytest.mark.parametrize("name", ["engine", "engine26"], ids=["20.10-overlay2", "26.1-containerd"])
def test_every_pair_changes_by_the_engines_sizes(name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(name)
    df = {i["Id"]: i["Size"] for i in system_df(engine)["Images"]}
    sides = Sides(SourceChoice(hosts=(engine.host,)), open_source)
    pairs = list(itertools.permutations(sorted(df), 2))
    assert len(pairs) > 100
    for old, new in pairs:
        result = compare(sides.side(old), sides.side(new))
        assert isinstance(result, ImageDiff)
        assert result.size_change_bytes == df[new] - df[old], (old, new)


@pytest.mark.parametrize("name", ["engine", "engine26"], ids=["20.10-overlay2", "26.1-containerd"])
def test_an_app_on_another_app_adds_its_own_layers_and_files(
    name: str, request: pytest.FixtureRequest
) -> None:
    engine = request.getfixturevalue(name)
    result = cli(engine, "diff", "app-one:1", "app-plus:1", "--files", "-f", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    base = inspect(engine, "app-one:1")["RootFS"]["Layers"]
    app = inspect(engine, "app-plus:1")["RootFS"]["Layers"]
    assert app[: len(base)] == base
    assert [layer["diff_id"] for layer in document["added_layers"]] == app[len(base) :]
    assert document["removed_layers"] == [] and document["common_layers"] == len(base)
    # app-plus:1 is `FROM app-one:1` + `COPY plugin.bin /app/` of 33,000 bytes (examples/corpus.py)
    assert [(f["path"], f["change"], f["new_bytes"]) for f in document["files"]] == [
        ("app/plugin.bin", "added", 33_000)
    ]
    df = {i["Id"]: i["Size"] for i in system_df(engine)["Images"]}
    assert document["size_change_bytes"] == df[document["new"]["id"]] - df[document["old"]["id"]]


def test_two_saved_archives_compare_as_the_images_do(engine: Any, tmp_path: Path) -> None:
    for tag in ("app-one:1", "app-plus:1"):
        engine.docker("save", "-o", str(tmp_path / f"{tag.replace(':', '-')}.tar"), tag)
    live = json.loads(cli(engine, "diff", "app-one:1", "app-plus:1", "--files", "-f", "json").stdout)
    saved = cli(
        engine,
        "diff",
        str(tmp_path / "app-one-1.tar"),
        str(tmp_path / "app-plus-1.tar"),
        "--files",
        "-f",
        "json",
    )
    assert saved.returncode == 0, saved.stderr
    document = json.loads(saved.stdout)
    for key in ("size_change_bytes", "added_bytes", "removed_bytes", "common_layers", "files"):
        assert document[key] == live[key], key
    assert [la["chain_id"] for la in document["added_layers"]] == [
        la["chain_id"] for la in live["added_layers"]
    ]


def test_two_recordings_before_and_after_building_and_removing(engine: Any, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()

    def build(tag: str, count: int) -> None:
        (context / "Dockerfile").write_text(
            f"FROM app-one:1\nRUN dd if=/dev/zero of=/grown bs=1000 count={count}\n"
        )
        engine.docker("build", "-q", "-t", tag, str(context))

    build("over-time-old:1", 120)
    try:
        before_store, before_df = layer_store(engine), system_df(engine)
        assert cli(engine, "record", str(tmp_path / "before.json")).returncode == 0
        engine.docker("rmi", "over-time-old:1")
        build("over-time-new:1", 340)
        after_store, after_df = layer_store(engine), system_df(engine)
        assert cli(engine, "record", str(tmp_path / "after.json")).returncode == 0
        result = cli(
            engine, "diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "-f", "json"
        )
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["kind"] == "host"
        changes = {(c["change"], c["reference"]) for c in document["images"]}
        assert changes == {("removed", "over-time-old:1"), ("added", "over-time-new:1")}
        # The layer store on disk is the ground truth for what appeared and what went.
        assert {la["chain_id"] for la in document["added_layers"]} == set(after_store) - set(before_store)
        assert {la["chain_id"] for la in document["removed_layers"]} == set(before_store) - set(after_store)
        assert document["added_bytes"] == 340_000 and document["removed_bytes"] == 120_000
        assert document["size_change_bytes"] == after_df["LayersSize"] - before_df["LayersSize"]
        markdown = cli(
            engine, "diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "-f", "markdown"
        )
        assert markdown.stdout.startswith(f"### {tmp_path / 'after.json'} is +220kB")
    finally:
        for tag in ("over-time-old:1", "over-time-new:1"):
            subprocess.run(["docker", "rmi", tag], env=engine.env(), capture_output=True, check=False)


def test_check_baseline_pass_fail_warn_and_missing(engine: Any, tmp_path: Path) -> None:
    df = {i["Id"]: i["Size"] for i in system_df(engine)["Images"]}
    old, new = inspect(engine, "app-one:1"), inspect(engine, "app-plus:1")
    growth = df[new["Id"]] - df[old["Id"]]
    base = ["check", "app-plus:1", "--baseline", "app-one:1", "--no-content"]
    passed = cli(engine, *base, "--rule", "max-growth=1MB")
    assert passed.returncode == 0, passed.stderr + passed.stdout
    failed = cli(engine, *base, "--rule", "max-growth=10kB", "-f", "json")
    assert failed.returncode == 1
    result = next(r for r in json.loads(failed.stdout)["results"] if r["rule"] == "max-growth")
    assert (result["status"], result["value"], result["threshold"]) == ("fail", growth, 10_000)
    assert "2.46MB vs baseline app-one:1 2.43MB" in result["message"]
    summary = tmp_path / "summary.md"
    warned = subprocess.run(
        [sys.executable, "-m", "layershare", *base, "--warn", "max-growth-percent=1%", "-f", "github"],
        env={**engine.env(), "GITHUB_STEP_SUMMARY": str(summary)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert warned.returncode == 0 and "::warning title=layershare max-growth-percent" in warned.stdout
    markdown = summary.read_text()
    assert "## Growth over the baseline" in markdown
    assert "`app-plus:1` is +33kB (+1.4%) over `app-one:1`; layer 6 `" in markdown
    missing = cli(engine, "check", "app-plus:1", "--baseline", "main-build:404", "--rule", "max-growth=1MB")
    assert missing.returncode == 6
    assert missing.stderr.startswith("layershare: error: baseline missing: no image 'main-build:404'")
    assert missing.stderr.count("\n") == 1


def metric_values(text: str) -> dict[str, list[Any]]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_metrics_equal_the_engines_accounting(graphdriver_engine: Any) -> None:
    engine = graphdriver_engine
    result = cli(engine, "metrics", "--top", "1000")
    assert result.returncode == 0, result.stderr
    families = metric_values(result.stdout)
    df = system_df(engine)
    assert [s.value for s in families["layershare_up"]] == [1]
    assert [s.value for s in families["layershare_physical_bytes"]] == [df["LayersSize"]]
    assert [s.value for s in families["layershare_logical_bytes"]] == [sum(i["Size"] for i in df["Images"])]
    by_id = {i["Id"]: i for i in df["Images"]}
    sizes = {s.labels["image_id"]: s.value for s in families["layershare_image_size_bytes"]}
    assert sizes == {i: image["Size"] for i, image in by_id.items()}
    shared = {s.labels["image_id"]: s.value for s in families["layershare_image_shared_bytes"]}
    assert shared == {i: image["SharedSize"] for i, image in by_id.items()}
    disk = {s.labels["category"]: s.value for s in families["layershare_disk_bytes"]}
    assert disk["images"] == df["LayersSize"]
    assert disk["containers"] == sum(c.get("SizeRw") or 0 for c in df["Containers"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(what: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll until ``what()`` returns something true; fail with the last error after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            value = what()
            if value:
                return value
        except OSError as e:
            last = e
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting after {timeout:.0f}s: {last}")


def scrape(port: int) -> dict[str, list[Any]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return metric_values(response.read().decode())


def start_serve(engine: Any, port: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "layershare", "serve", "--listen", f"127.0.0.1:{port}", "--interval", "1", *args],
        env=engine.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[int], int]]:
    """Start Debian's Prometheus scraping a target on loopback; returns its own port."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("these tests need Debian's prometheus (apt-get install prometheus; .ci/setup does)")
    processes: list[subprocess.Popen[bytes]] = []

    def start(target_port: int) -> int:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: layershare\n    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        port = free_port()
        log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - closed with the process
        processes.append(
            subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        return port

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def query(port: int, promql: str) -> list[Any]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success"
    result: list[Any] = answer["data"]["result"]
    return result


def test_prometheus_scrapes_serve(engine: Any, prometheus: Callable[[int], int]) -> None:
    port = free_port()
    serve = start_serve(engine, port)
    try:
        prometheus_port = prometheus(port)
        found = wait_for(lambda: query(prometheus_port, "layershare_physical_bytes"), timeout=90)
        report = json.loads(cli(engine, "report", "-f", "json").stdout)
        assert report["totals"]["physical_bytes"] == system_df(engine)["LayersSize"]
        assert [(r["metric"]["engine"], float(r["value"][1])) for r in found] == [
            (engine.host, float(report["totals"]["physical_bytes"]))
        ]
        images = query(prometheus_port, "count(layershare_image_unique_bytes)")
        assert float(images[0]["value"][1]) == min(100, report["totals"]["images"])
        assert serve.poll() is None
    finally:
        stop(serve)


def test_serve_survives_the_engine_going_away_and_coming_back(tmp_path: Path) -> None:
    from corpus import busybox_rootfs
    from support import start_engine

    engine = start_engine()
    port = free_port()
    serve = None
    try:
        engine.docker("import", "-", "tiny:1", input_bytes=busybox_rootfs({"hello": b"hi\n"}))
        serve = start_serve(engine, port, "--disk-interval", "2")

        def up(want: int) -> Callable[[], dict[str, list[Any]] | None]:
            def check() -> dict[str, list[Any]] | None:
                metrics = scrape(port)
                ups = metrics["layershare_up"]
                return metrics if ups and ups[0].value == want else None

            return check

        first = wait_for(up(1))
        physical = first["layershare_physical_bytes"][0].value
        assert physical == system_df(engine)["LayersSize"]
        # Images are collected at most once per engine state: three intervals later, the same sample.
        time.sleep(3.5)
        assert scrape(port)["layershare_collect_seconds"] == first["layershare_collect_seconds"]
        engine.docker("tag", "tiny:1", "tiny:2")
        # A new state is collected again: a second tag doubles the listed bytes (one row per tag).
        assert first["layershare_listed_bytes"][0].value == physical
        wait_for(lambda: scrape(port)["layershare_listed_bytes"][0].value == 2 * physical)
        engine.halt()
        down = wait_for(up(0))
        assert down["layershare_physical_bytes"] == [] and serve.poll() is None
        engine.resume()
        again = wait_for(up(1))
        assert again["layershare_physical_bytes"][0].value == physical
        assert wait_for(lambda: scrape(port)["layershare_disk_bytes"])
    finally:
        err = stop(serve) if serve is not None else ""
        engine.stop()
    assert "Traceback" not in err, err


def test_two_saved_disks_show_what_grew(engine: Any, tmp_path: Path) -> None:
    before = cli(engine, "disk", "-f", "json")
    assert before.returncode == 0, before.stderr
    (tmp_path / "before.json").write_text(before.stdout)
    engine.docker(
        "run", "--name", "over-time-writer", "--network", "none", "app-one:1", "sh", "-c",
        "dd if=/dev/urandom of=/grown bs=1000 count=250 2>/dev/null; i=0; "
        "while [ $i -lt 2000 ]; do echo a line of log; i=$((i+1)); done",
    )  # fmt: skip
    try:
        after = cli(engine, "disk", "-f", "json")
        (tmp_path / "after.json").write_text(after.stdout)
        df = system_df(engine)
        writer = next(c for c in df["Containers"] if "/over-time-writer" in c["Names"])
        log_bytes = Path(inspect_container(engine, "over-time-writer")["LogPath"]).stat().st_size
        result = cli(
            engine, "diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "-f", "json"
        )
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["kind"] == "disk"
        change = {c["category"]: c for c in document["categories"]}
        assert change["containers"]["bytes_change"] == writer["SizeRw"] >= 250_000
        assert change["logs"]["bytes_change"] == log_bytes > 0
        assert change["images"]["bytes_change"] == 0
        old_total, new_total = (json.loads(x)["on_disk_bytes"] for x in (before.stdout, after.stdout))
        assert document["size_change_bytes"] == new_total - old_total
        assert sum(c["disk_bytes_change"] for c in change.values()) == new_total - old_total
        added = [i for i in document["items"] if i["change"] == "added"]
        assert [(i["kind"], i["name"], i["new_bytes"]) for i in added] == [
            ("container", "over-time-writer", writer["SizeRw"] + log_bytes)
        ]
        table = cli(engine, "diff", str(tmp_path / "before.json"), str(tmp_path / "after.json"))
        assert "containers" in table.stdout and "over-time-writer" in table.stdout
        mixed = cli(engine, "diff", str(tmp_path / "before.json"), "app-one:1")
        assert mixed.returncode == 2 and mixed.stderr.count("\n") == 1
    finally:
        subprocess.run(
            ["docker", "rm", "-f", "over-time-writer"], env=engine.env(), capture_output=True, check=False
        )


def inspect_container(engine: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(engine.docker("container", "inspect", name))[0]
    return result
