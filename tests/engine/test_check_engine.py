"""``layershare check`` against real engines: bases, drift and wasted bytes versus the engine's own figures.

Ground truth: the layer store on disk (``layerdb/*/size``), ``GET /system/df``,
``docker image inspect`` and the sizes the corpus's Dockerfiles write (``dd``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import docker
import pytest
from corpus import BASES
from engines import api_calls_since, cli, layer_store

from layershare.cli import ExitCode
from layershare.errors import ImageNotFound
from layershare.model import ImageContent
from layershare.policy.config import load_policy
from layershare.policy.gate import run_check, select_for_check
from layershare.report.index import LayerIndex
from layershare.sources.archive import read_archive
from layershare.sources.engine import EngineSource

pytestmark = pytest.mark.engine

B_TXT = len(BASES["distro-b:1"]["usr/share/doc/b.txt"])


def chain_of(index: LayerIndex, tag: str) -> list[tuple[str, str]]:
    """(chain ID, instruction) of each layer of ``tag``, base first."""
    image_id = next(i for i, tags in index.images["tags"].items() if tag in tags)
    chain = list(index.edges.loc[index.edges["image_id"] == image_id, "chain_id"])
    return [(c, str(index.layers.at[c, "created_by"])) for c in chain]


@pytest.fixture(scope="module")
def checked(engine: Any) -> tuple[LayerIndex, Any]:
    source = EngineSource(engine.host)
    index = LayerIndex.from_snapshot(source.snapshot())
    images = ["app-two:1", "overwrite:1", "trim-app:1", "waste-base:1", "on-waste-base:1", "app-one:1"]
    policy = load_policy(cwd=Path("/"), rules=["min-efficiency=0.5"])
    report = run_check(index, policy, select_for_check(index, images), read_content=source.image_content)
    return index, report


def waste_of(index: LayerIndex, report: Any, tag: str) -> Any:
    image_id = next(i for i, tags in index.images["tags"].items() if tag in tags)
    return report.waste[image_id]


def test_wasted_bytes_equal_the_layers_that_hold_them(engine: Any, checked: tuple[LayerIndex, Any]) -> None:
    index, report = checked
    store = layer_store(engine)

    app_two = chain_of(index, "app-two:1")
    big = next(c for c, cmd in app_two if "of=/big" in cmd)
    assert waste_of(index, report, "app-two:1").wasted_bytes == store[big] == 250_000

    overwrite = chain_of(index, "overwrite:1")
    copies = [c for c, cmd in overwrite if "of=/data.bin" in cmd]
    waste = waste_of(index, report, "overwrite:1")
    # the two overwritten copies, each once; the visible third copy is not waste
    assert waste.wasted_bytes == store[copies[0]] + store[copies[1]] == 220_000
    assert waste.content_bytes == sum(store[c] for c, _ in overwrite)
    assert waste.efficiency == pytest.approx(1 - 220_000 / waste.content_bytes)
    assert [(w.size_bytes, w.how) for w in waste.top] == [(120_000, "overwritten"), (100_000, "overwritten")]

    trim = waste_of(index, report, "trim-app:1")
    assert (trim.wasted_bytes, trim.base_wasted_bytes) == (B_TXT, 0)
    assert trim.top[0].path == "usr/share/doc/b.txt" and trim.top[0].written_by == 0

    cache = next(c for c, cmd in chain_of(index, "waste-base:1") if "of=/cache.tmp" in cmd)
    assert waste_of(index, report, "waste-base:1").wasted_bytes == store[cache]
    on_base = waste_of(index, report, "on-waste-base:1")
    # the base's own waste is kept apart from the image's (dive issue 111)
    assert (on_base.wasted_bytes, on_base.base_wasted_bytes) == (0, store[cache])
    assert waste_of(index, report, "app-one:1").wasted_bytes == 0
    assert report.passed


def test_every_exported_layer_weighs_what_the_layer_store_says(engine: Any) -> None:
    source = EngineSource(engine.host)
    index = LayerIndex.from_snapshot(source.snapshot())
    store = layer_store(engine)
    api = docker.APIClient(base_url=engine.host, version="auto")
    listed = index.images.index[~index.images["intermediate"].to_numpy(dtype=bool)]
    assert len(listed) >= 20
    for image_id in listed:
        content = source.image_content(str(image_id))
        assert list(content.diff_ids) == api.inspect_image(image_id)["RootFS"]["Layers"]
        chain = index.edges.loc[index.edges["image_id"] == image_id, "chain_id"]
        assert [layer.size_bytes for layer in content.layers] == [store[c] for c in chain], image_id


def read_saved(engine: Any, tmp_path: Path, *tags: str) -> list[ImageContent]:
    path = tmp_path / "saved.tar"
    engine.docker("save", "-o", str(path), *tags)
    with path.open("rb") as f:
        return read_archive(f, name=str(path))


def test_a_docker_save_archive_in_the_classic_layout(engine: Any, tmp_path: Path) -> None:
    contents = read_saved(engine, tmp_path, "overwrite:1", "trim-app:1")
    assert {c.layout for c in contents} == {"docker"}
    assert {t for c in contents for t in c.tags} == {"overwrite:1", "trim-app:1"}
    api = docker.APIClient(base_url=engine.host, version="auto")
    store = layer_store(engine)
    index = LayerIndex.from_snapshot(EngineSource(engine.host).snapshot())
    for content in contents:
        (tag,) = content.tags
        assert list(content.diff_ids) == api.inspect_image(tag)["RootFS"]["Layers"]
        assert [layer.size_bytes for layer in content.layers] == [store[c] for c, _ in chain_of(index, tag)]


def test_an_oci_layout_archive_from_engine_26_with_the_containerd_store(
    engine26: Any, tmp_path: Path
) -> None:
    contents = read_saved(engine26, tmp_path, "overwrite:1", "trim-app:1")
    assert {c.layout for c in contents} == {"oci"}
    api = docker.APIClient(base_url=engine26.host, version="auto")
    by_tag = {}
    for content in contents:
        (tag,) = content.tags
        by_tag[tag.rsplit("/", 1)[-1]] = content
        assert list(content.diff_ids) == api.inspect_image(tag)["RootFS"]["Layers"]
    from layershare.policy.waste import analyse_waste

    assert analyse_waste(by_tag["overwrite:1"], 1).wasted_bytes == 220_000
    assert analyse_waste(by_tag["trim-app:1"], 1).wasted_bytes == B_TXT
    # and through the CLI, streaming the engine's export (OCI layout, gzip layers)
    result = cli(engine26, "check", "overwrite:1", "trim-app:1", "on-waste-base:1", "-f", "json", cwd="/")
    assert result.returncode == ExitCode.OK, result.stderr
    images = {i["image"]: i for i in json.loads(result.stdout)["images"]}
    assert images["overwrite:1"]["waste"]["wasted_bytes"] == 220_000
    assert images["trim-app:1"]["waste"]["wasted_bytes"] == B_TXT
    assert images["on-waste-base:1"]["waste"]["base_wasted_bytes"] == 200_000
    assert images["on-waste-base:1"]["waste"]["wasted_bytes"] == 0


def test_a_bloated_base_fails_and_a_lean_one_passes(engine: Any) -> None:
    result = cli(
        engine, "check", "fat-app:1", "app-one:1", "--rule", "max-base-size=2.5MB", "-f", "json", cwd="/"
    )
    assert result.returncode == ExitCode.CHECK_FAILED, result.stderr
    doc = json.loads(result.stdout)
    assert doc["passed"] is False
    df = {
        t: i
        for i in docker.APIClient(base_url=engine.host, version="auto").df()["Images"]
        for t in i["RepoTags"] or []
    }
    verdicts = {(r["image"], r["rule"]): r for r in doc["results"]}
    fat = verdicts[("fat-app:1", "max-base-size")]
    assert fat["status"] == "fail"
    assert fat["value"] == df["fat-base:1"]["Size"]
    assert fat["message"].startswith("base=4.98MB > max-base-size=2.5MB")
    lean = verdicts[("app-one:1, app-one:latest", "max-base-size")]
    assert lean["status"] == "pass"
    assert lean["value"] == df["runtime:3"]["Size"]
    images = {i["image"]: i for i in doc["images"]}
    assert images["fat-app:1"]["base"]["share"] == df["fat-base:1"]["Size"] / df["fat-app:1"]["Size"]


def test_drift_and_what_rebasing_frees(engine: Any) -> None:
    result = cli(engine, "check", "--no-content", "-f", "json", cwd="/")
    assert result.returncode == ExitCode.OK, result.stderr
    doc = json.loads(result.stdout)
    drift = {d["repository"]: d for d in doc["drift"]}
    index = LayerIndex.from_snapshot(EngineSource(engine.host).snapshot())
    store = layer_store(engine)
    assert drift["runtime"]["versions"] == ["runtime:2", "runtime:3"]
    assert drift["runtime"]["freed_bytes"] == store[chain_of(index, "runtime:2")[-1][0]]
    assert drift["rebuilt-base"]["versions"] == ["rebuilt-base:1", "rebuilt-base:1 (an earlier build)"]
    assert drift["rebuilt-base"]["images"] == ["on-rebuilt:1"]
    warned = {r["image"] for r in doc["results"] if r["rule"] == "max-base-drift" and r["status"] == "warn"}
    assert {"legacy-app:1", "app-two:1", "on-rebuilt:1"} <= warned


def test_check_only_reads(engine: Any) -> None:
    def images() -> list[str]:
        listing = engine.docker(
            "image", "ls", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"
        )
        return sorted(listing.splitlines())

    before = images()
    mark = len(engine.log())
    result = cli(engine, "check", "-f", "junit", cwd="/")
    assert result.returncode in (ExitCode.OK, ExitCode.CHECK_FAILED), result.stderr
    calls = api_calls_since(engine, mark)
    assert any(path.endswith("/get") for _, path in calls), "no image was exported"
    assert sum(path == "/version" for _, path in calls) == 1, "one connection for the whole check"
    assert {method for method, _ in calls} <= {"GET", "HEAD"}, calls
    assert before == images()


class _RemovesBeforeExport(EngineSource):
    """Removes a real image from the engine just before its contents are streamed."""

    def __init__(self, host: str, victim: str, engine: Any) -> None:
        super().__init__(host)
        self.victim, self.engine = victim, engine

    def image_content(self, image_id: str) -> ImageContent:
        if image_id == self.victim:
            self.engine.docker("rmi", image_id)
        return super().image_content(image_id)


def test_an_image_removed_during_the_check_is_skipped(engine: Any) -> None:
    engine.docker("build", "-q", "-t", "to-vanish:1", "-", input_bytes=b"FROM distro-b:1\nRUN echo x > /x\n")
    victim = engine.docker("image", "inspect", "-f", "{{.Id}}", "to-vanish:1").strip()
    source = _RemovesBeforeExport(engine.host, victim, engine)
    index = LayerIndex.from_snapshot(source.snapshot())
    report = run_check(index, load_policy(cwd=Path("/")), [victim], read_content=source.image_content)
    statuses = {r.rule: r for r in report.results}
    assert statuses["max-wasted-bytes"].status.value == "skip"
    assert "removed while checking" in statuses["max-wasted-bytes"].message
    with pytest.raises(ImageNotFound):  # the engine answers 500 here; layershare says what happened
        EngineSource(engine.host).image_content(victim)
