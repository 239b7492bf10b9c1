"""``layershare dupes`` on real engines (20.10 overlay2, 29.7 on its containerd store), held to an independent
count made here from ``docker save`` of the same images: every stored layer (chain ID) once, each layer's
regular non-empty files (a hard link once, the last entry of a path winning), their SHA-256.

The images are loaded from an archive written here, so every layer is exactly what the case needs: two
bases holding the same busybox, a folder of libraries on both (the same diff ID on two parents), hard
links, whiteouts and an opaque folder, empty files, the same content with another mode and another
owner, and a layer of 100,000 small files. Root reads the layer store's folders; the ``docker`` group
(uid 65534 with the socket) reads the engine's export: both give the same figures.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus import ArchiveImage, busybox_rootfs, write_load_archive
from engines import api_calls_since, cli, open_to_others, run_unprivileged
from support import private_engine

pytestmark = pytest.mark.engine

IMAGES = ["dupes-one:1", "dupes-two:1", "app-x:1", "app-y:1", "app-z:1", "many:1"]
MANY = 100_000


def blob(size: int, seed: str) -> bytes:
    out = b""
    n = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}{n}".encode()).digest()
        n += 1
    return out[:size]


def layer(entries: list[tarfile.TarInfo | tuple[str, bytes, int, int, int]]) -> bytes:
    """A layer tar: (path, content, mode, uid, gid) files, or ready members (links, whiteouts)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
                continue
            path, content, mode, uid, gid = entry
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.uid, info.gid = len(content), mode, uid, gid
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def member(path: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(path)
    info.type, info.linkname = kind, target
    return info


def images() -> list[ArchiveImage]:
    b1 = busybox_rootfs({"etc/os-release": b"one\n", "opt/base.bin": blob(100_000, "base")})
    b2 = busybox_rootfs({"etc/os-release": b"two\n"})
    lib = layer([(f"usr/lib/app/f{i}.so", blob(10_000 + i, f"lib{i}"), 0o644, 0, 0) for i in range(20)])
    links = layer([
        ("h1", blob(100_000, "base"), 0o644, 0, 0),  # the base's opt/base.bin again, at another path
        member("h2", tarfile.LNKTYPE, "h1"),  # a hard link: the same stored copy
        ("e1", b"", 0o644, 0, 0), ("e2", b"", 0o644, 0, 0),  # empty files: no copy
        member("etc/.wh.os-release", tarfile.REGTYPE),  # a whiteout
        member("opt/.wh..wh..opq", tarfile.REGTYPE),  # an opaque folder
        ("opt/new.txt", b"new\n", 0o644, 0, 0),
    ])  # fmt: skip
    mode = layer([
        ("usr/lib/app/f0.so", blob(10_000, "lib0"), 0o600, 0, 0),  # same content, another mode
        ("srv/owned.bin", blob(30_000, "own"), 0o644, 1000, 1000),
    ])  # fmt: skip
    owner = layer([("srv/owned.bin", blob(30_000, "own"), 0o644, 0, 0)])  # same content, another owner
    many = layer([(f"many/{i}", f"{i}\n".encode(), 0o644, 0, 0) for i in range(MANY)])
    step = "COPY . / # buildkit"
    return [
        ArchiveImage(["dupes-one:1"], [("ADD rootfs.tar / # buildkit", b1)]),
        ArchiveImage(["dupes-two:1"], [("ADD rootfs.tar / # buildkit", b2)]),
        ArchiveImage(["app-x:1"], [("ADD rootfs.tar / # buildkit", b1), (step, lib), (step, links)]),
        ArchiveImage(["app-y:1"], [("ADD rootfs.tar / # buildkit", b2), (step, lib)]),
        ArchiveImage(
            ["app-z:1"], [("ADD rootfs.tar / # buildkit", b1), (step, lib), (step, mode), (step, owner)]
        ),
        ArchiveImage(["many:1"], [("ADD rootfs.tar / # buildkit", b2), (step, many)]),
    ]


@pytest.fixture(scope="module", params=["20.10-overlay2", "29.7-containerd"])
def engine(request: pytest.FixtureRequest) -> Iterator[Any]:
    with private_engine(request.param, corpus=False) as private, tempfile.TemporaryDirectory() as folder:
        archive = Path(folder, "dupes.tar")
        write_load_archive(images(), archive)
        private.docker("load", "-i", str(archive))
        yield private


def chains(diff_ids: list[str]) -> list[str]:
    found = [diff_ids[0]]
    for diff in diff_ids[1:]:
        found.append("sha256:" + hashlib.sha256(f"{found[-1]} {diff}".encode()).hexdigest())
    return found


def independent(engine: Any) -> dict[str, Any]:
    """The figures counted here from ``docker save`` of the images (manifest.json, both layouts)."""
    data = subprocess.run(
        ["docker", "save", *IMAGES], env=engine.env(), capture_output=True, check=True
    ).stdout
    saved = tarfile.open(fileobj=io.BytesIO(data))  # noqa: SIM115 - in memory, read to the end here

    def read(name: str) -> bytes:
        body = saved.extractfile(name)
        assert body is not None
        return body.read()

    copies: dict[str, list[tuple[str, int, int, int, int, str]]] = {}
    for entry in json.loads(read("manifest.json")):
        diff_ids = json.loads(read(entry["Config"]))["rootfs"]["diff_ids"]
        for chain, path in zip(chains(diff_ids), entry["Layers"], strict=True):
            if chain in copies:
                continue
            files: dict[str, tuple[str, int, int, int, int, str]] = {}
            with tarfile.open(fileobj=io.BytesIO(read(path)), mode="r:*") as tar:
                for m in tar:
                    name = m.name.lstrip("./") if m.name.startswith("./") else m.name.lstrip("/")
                    files.pop(name, None)
                    base = name.rsplit("/", 1)[-1]
                    if m.isreg() and m.size > 0 and not base.startswith(".wh."):
                        body = tar.extractfile(m)
                        assert body is not None
                        digest = "sha256:" + hashlib.sha256(body.read()).hexdigest()
                        files[name] = (name, m.size, m.mode & 0o7777, m.uid, m.gid, digest)
            copies[chain] = list(files.values())
    every = [c for layer in copies.values() for c in layer]
    by_digest = Counter(c[5] for c in every)
    size = {c[5]: c[1] for c in every}
    keys: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    for chain, layer in copies.items():
        for c in layer:
            keys[(c[0], c[5], c[2], c[3], c[4])].add(chain)
    return {
        "stored_layers": len(copies),
        "stored_files": len(every),
        "stored_bytes": sum(c[1] for c in every),
        "duplicate_bytes": sum((n - 1) * size[d] for d, n in by_digest.items()),
        "consolidatable_bytes": sum((len(s) - 1) * size[k[1]] for k, s in keys.items() if len(s) > 1),
        "groups": {d: n for d, n in by_digest.items() if n > 1},
        "copies": copies,
    }


def dupes_json(
    engine: Any, *args: str, user: bool = False, env: dict[str, str] | None = None
) -> dict[str, Any]:
    run = (
        run_unprivileged(engine, ["dupes", *args, "--format", "json"], env)
        if user
        else cli(engine, "dupes", *args, "--format", "json", env=env)
    )
    assert run.returncode == 0, run.stderr
    doc: dict[str, Any] = json.loads(run.stdout)
    return doc


FIGURES = ["stored_layers", "stored_files", "stored_bytes", "duplicate_bytes", "consolidatable_bytes"]


def test_root_reads_the_layer_store_and_agrees_with_an_independent_count(engine: Any) -> None:
    expected = independent(engine)
    doc = dupes_json(engine, *IMAGES)
    assert doc["schema"] == "layershare.dupes/v1" and doc["read_from"] == "the layer store's folders"
    assert {k: doc[k] for k in FIGURES} == {k: expected[k] for k in FIGURES}
    assert {g["digest"]: g["copies"] for g in doc["groups"]} == expected["groups"]
    assert doc["unread_layers"] == []
    # The cases, each seen in the figures: the library folder on two bases is two stored layers.
    lib = [g for g in doc["groups"] if g["paths"] == ["/usr/lib/app/f1.so"]]
    assert len(lib) == 1 and lib[0]["copies"] == 2 and lib[0]["consolidatable"] == lib[0]["size"] == 10_001
    f0 = next(g for g in doc["groups"] if "/usr/lib/app/f0.so" in g["paths"])
    assert f0["copies"] == 3 and f0["consolidatable"] == 10_000  # the 0600 copy is not the same file
    owned = next(g for g in doc["groups"] if g["paths"] == ["/srv/owned.bin"])
    assert owned["copies"] == 2 and owned["consolidatable"] == 0  # another owner
    base = next(g for g in doc["groups"] if "/h1" in g["paths"])  # h1 and h2: one copy, named h1
    assert base["copies"] == 2 and sorted(base["paths"]) == ["/h1", "/opt/base.bin"]  # h2 is h1: once
    assert not any(
        p.endswith(("/e1", "/e2", "os-release", ".opq")) for g in doc["groups"] for p in g["paths"]
    )
    advice = next(a for a in doc["advice"] if a["files"] == 20)  # the library folder, on two bases
    assert {i["tags"][0] for i in advice["images"]} == {"app-x:1", "app-y:1", "app-z:1"}
    assert advice["saving_bytes"] == sum(10_000 + i for i in range(20)) and advice["base"] is None
    assert advice["folders"] == [{"folder": "/usr/lib/app", "files": 20}]


def test_a_layer_of_100000_small_files(engine: Any) -> None:
    doc = dupes_json(engine, "many:1")
    expected = sum(len(f"{i}\n") for i in range(MANY))
    assert doc["stored_layers"] == 2 and doc["stored_files"] == MANY + 2  # busybox and os-release below
    assert doc["stored_bytes"] == expected + Path("/bin/busybox").stat().st_size + len(b"two\n")
    # the same small contents in many files: each content (a number) is stored once here
    assert doc["duplicate_bytes"] == 0


def test_the_docker_group_reads_the_export_and_gets_roots_figures(engine: Any) -> None:
    root = dupes_json(engine, *IMAGES)
    with open_to_others(engine):
        group = dupes_json(engine, *IMAGES, user=True)
    assert group["read_from"] == "the engine's export"
    assert {k: group[k] for k in FIGURES} == {k: root[k] for k in FIGURES}
    assert group["groups"] == root["groups"] and group["advice"] == root["advice"]


def test_image_archives_give_the_engines_figures(engine: Any, tmp_path: Path) -> None:
    """``dupes --archive``: ``docker save`` of the images (the classic layout on 20.10, OCI with compressed
    layers on the containerd store) read as it streams: root's figures and contents."""
    archive = tmp_path / "saved.tar"
    subprocess.run(["docker", "save", "-o", str(archive), *IMAGES], env=engine.env(), check=True)
    root = dupes_json(engine, *IMAGES)
    saved = cli(engine, "dupes", "--archive", str(archive), "--format", "json")
    assert saved.returncode == 0, saved.stderr
    doc = json.loads(saved.stdout)
    assert doc["read_from"] == "the archives"
    assert {k: doc[k] for k in FIGURES} == {k: root[k] for k in FIGURES}
    assert {g["digest"]: g["copies"] for g in doc["groups"]} == {
        g["digest"]: g["copies"] for g in root["groups"]
    }


def test_the_table_says_what_each_figure_is(engine: Any) -> None:
    run = cli(engine, "dupes", "app-*")
    assert run.returncode == 0, run.stderr
    assert "Duplicate content:" in run.stdout and "content-addressed store" in run.stdout
    assert "one shared layer under them saves" in run.stdout and "/usr/lib/app (20)" in run.stdout


def test_check_fails_an_image_whose_own_layers_store_files_again(engine: Any) -> None:
    """``check --rule max-duplicate-bytes=…``: the bytes an image's own layers (above its base) store
    that another stored layer holds, equal to the count made here, the files named; exit 1."""
    copies = independent(engine)["copies"]
    holders: dict[str, set[str]] = defaultdict(set)
    for chain, files in copies.items():
        for f in files:
            holders[f[5]].add(chain)

    def own(tag: str, base: str) -> list[str]:
        mine = chains(json.loads(engine.docker("image", "inspect", tag))[0]["RootFS"]["Layers"])
        return mine[len(chains(json.loads(engine.docker("image", "inspect", base))[0]["RootFS"]["Layers"])) :]

    expected = {
        tag: sum(f[1] for chain in own(tag, base) for f in copies[chain] if holders[f[5]] - {chain})
        for tag, base in (("app-x:1", "dupes-one:1"), ("app-y:1", "dupes-two:1"))
    }
    assert expected["app-x:1"] == 300_190 and expected["app-y:1"] == 200_190  # the libraries; h1 too for x
    run = cli(engine, "check", "--rule", "max-duplicate-bytes=250kB", "-f", "json", "app-x:1", "app-y:1")
    assert run.returncode == 1, run.stderr
    results = {r["image"]: r for r in json.loads(run.stdout)["results"] if r["rule"] == "max-duplicate-bytes"}
    assert results["app-x:1"]["status"] == "fail" and results["app-x:1"]["value"] == expected["app-x:1"]
    assert results["app-y:1"]["status"] == "pass" and results["app-y:1"]["value"] == expected["app-y:1"]
    assert "/h1 100kB (also in " in results["app-x:1"]["message"]


def test_the_page_shows_the_files_stored_more_than_once(engine: Any, browser: Any, tmp_path: Path) -> None:
    """``report --format html --dupes``: a panel in Chromium with dupes' own figures, contents and advice."""
    from pages import open_page

    run = cli(engine, "report", "--format", "html", "--dupes")
    assert run.returncode == 0, run.stderr
    path = tmp_path / "report.html"
    path.write_text(run.stdout)
    doc = dupes_json(engine)
    opened = open_page(browser, path)
    try:
        assert opened.errors == []
        for figure in ("stored_bytes", "duplicate_bytes", "consolidatable_bytes"):
            assert opened.figure(figure) == doc[figure] > 0, figure
        rows = opened.page.locator("[data-section='0'] table.dupes-groups tbody tr")
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.digest)") == [
            g["digest"] for g in doc["groups"][:50]
        ]
        advice = opened.page.locator("[data-section='0'] ol.dupes-advice li")
        assert advice.count() == min(20, len(doc["advice"])) > 0
        assert "one shared layer under them saves" in advice.first.inner_text()
        opened.page.locator(".dupes").screenshot(path=str(tmp_path / "dupes.png"))  # for a person to look at
    finally:
        opened.page.close()


def test_browse_has_a_dupes_view_whose_images_mark_as_elsewhere(engine: Any) -> None:
    """``layershare browse dupes``: one row per content stored more than once, its wasted bytes (dupes'
    groups, the same order by size); opened, the images carrying it, marked as in the images view: the
    status line is ``free``'s figure for the image marked."""
    import re
    import time

    from support import run_async

    from layershare.browse.app import BrowseApp
    from layershare.browse.session import loaders
    from layershare.sources.choice import SourceChoice

    doc = dupes_json(engine)
    seen: dict[str, Any] = {}

    async def run() -> None:
        app = BrowseApp(loaders(SourceChoice(hosts=(engine.host,)), None, None, "dupes"), view="dupes")
        async with app.run_test(size=(80, 24)) as pilot:
            deadline = time.monotonic() + 300
            while (not app.loaded or app.views[0].tree.dupes is None) and time.monotonic() < deadline:
                await pilot.pause(0.1)
            await pilot.pause(0.2)
            seen["rows"] = [(n.key, n.bytes) for n in app.stack[-1].shown]
            await pilot.press("slash", *"f1.so", "enter", "enter")  # the library file on two bases
            seen["opened"] = [(n.kind, n.name) for n in app.stack[-1].shown]
            await pilot.press("slash", *"app-y", "enter", "space")
            seen["status"] = str(app.query_one("#status").render())
            await pilot.press("q")

    run_async(run())
    expected = sorted(
        ((f"dupe:{g['digest']}", g["wasted_bytes"]) for g in doc["groups"]), key=lambda r: -r[1]
    )
    assert sorted(seen["rows"], key=lambda r: (-r[1], r[0])) == sorted(expected, key=lambda r: (-r[1], r[0]))
    assert ("path", "/usr/lib/app/f1.so") in seen["opened"]
    assert {name for kind, name in seen["opened"] if kind == "image"} == {"app-x:1", "app-y:1", "app-z:1"}
    marked = re.search(r"Marked 1 · frees \S+ \(([\d,]+) B\)", seen["status"])
    assert marked, seen["status"]
    freed = cli(engine, "free", "--format", "json", "app-y:1")
    assert int(marked.group(1).replace(",", "")) == json.loads(freed.stdout)["freed_bytes"]


def test_a_warm_run_reads_no_layer(engine: Any, tmp_path: Path) -> None:
    """Layers never change: kept by diff ID, a second run (with other options, so not the output kept)
    reads none. As root no folder is walked and no file hashed (both made to fail here); as the docker
    group nothing is exported. The figures stay."""
    cache = tmp_path / "cache"
    theirs = Path(tempfile.mkdtemp(prefix="layershare-group-cache-"))  # pytest's folders are root's alone
    theirs.chmod(0o777)  # the group's runs (uid 65534) keep their own, as in their own home
    env = {"LAYERSHARE_CACHE_DIR": str(cache)}
    cold = dupes_json(engine, *IMAGES, env=env)
    script = f"""
import sys
sys.argv = ["layershare", "dupes", "-H", {engine.host!r}, "-f", "json", "--top", "7", *{IMAGES!r}]
import layershare.sources.dupes.folders as folders
def refuse(*args):
    raise AssertionError("a warm run read a layer")
folders.walk = folders.sha256_of = refuse
from layershare.cli.main import main
main()
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False,
                         env={**engine.env(), **env})  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == cold
    group_cold = dupes_json(engine, *IMAGES, user=True, env={"LAYERSHARE_CACHE_DIR": str(theirs)})
    mark = len(engine.log())
    # Other options: not the output kept, but every layer from the cache (no export).
    group_warm = dupes_json(
        engine, "--top", "7", *IMAGES, user=True, env={"LAYERSHARE_CACHE_DIR": str(theirs)}
    )
    assert group_warm == group_cold and {k: group_warm[k] for k in FIGURES} == {k: cold[k] for k in FIGURES}
    calls = api_calls_since(engine, mark)
    shutil.rmtree(theirs)
    assert any("/images/json" in path for _, path in calls)  # the engine was asked: the log holds the run
    assert not [path for _, path in calls if "/get" in path]  # and nothing exported


def test_a_file_that_vanishes_mid_run_marks_its_layer_unread(engine: Any) -> None:
    """As root, a file of one layer removed from the layer store between the walk and its hashing (the
    module's last test: the engine keeps the damage): that layer is reported unread, one line on stderr,
    and every other layer's files are counted as before."""
    before = independent(engine)["copies"]
    script = f"""
import sys
sys.argv = ["layershare", "dupes", "-H", {engine.host!r}, "--no-cache", "-f", "json", "app-x:1", "app-y:1"]
import layershare.sources.dupes.folders as folders
walk, done = folders.walk, []
def walk_then_remove(root, crcs=None):
    found = walk(root, crcs)
    for copy in found:
        if copy.path == "h1" and not done:  # app-x's own layer (h2 still holds the inode)
            (root / copy.path).unlink()
            done.append(root)
    return found
folders.walk = walk_then_remove
from layershare.cli.main import main
main()
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    (line,) = run.stderr.strip().splitlines()
    (unread,) = doc["unread_layers"]
    assert "h1" in line and unread["chain_id"] in line and "h1" in unread["why"]
    layers = set()
    for tag in ("app-x:1", "app-y:1"):
        layers |= set(chains(json.loads(engine.docker("image", "inspect", tag))[0]["RootFS"]["Layers"]))
    assert doc["stored_layers"] == len(layers) and unread["chain_id"] in layers
    read = [c for c in layers if c != unread["chain_id"]]
    assert doc["stored_files"] == sum(len(before[c]) for c in read)
    assert doc["stored_bytes"] == sum(f[1] for c in read for f in before[c])
