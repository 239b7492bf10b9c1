"""Against a real private engine: every figure equals the engine's own accounting.

Ground truth is ``GET /system/df`` (what ``docker system df -v`` prints) and the
engine's layer store on disk (``image/overlay2/layerdb``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import docker
import pytest
from engines import IMPORT_EVERYTHING, api_calls_since, cli, layer_store, run_unprivileged, system_df

from layershare.cli import ExitCode
from layershare.report.analysis import build_report, find_image, image_history, image_usage
from layershare.report.index import LayerIndex
from layershare.sources.engine import EngineSource

pytestmark = pytest.mark.engine


@pytest.mark.parametrize("read_store", [False, True], ids=["api-only", "layer-store"])
def test_every_image_matches_system_df_byte_for_byte(graphdriver_engine: Any, read_store: bool) -> None:
    engine = graphdriver_engine  # Engine 20.10 and 26.1, overlay2
    index = LayerIndex.from_snapshot(EngineSource(engine.host, read_layer_store=read_store).snapshot())
    usage = image_usage(index)
    df = system_df(engine)
    assert len(df["Images"]) >= 15
    for image in df["Images"]:
        row = usage.loc[image["Id"]]
        assert (row["layer_bytes"], row["shared_bytes"]) == (image["Size"], image["SharedSize"]), image[
            "RepoTags"
        ]
        assert index.images.at[image["Id"], "containers"] == image["Containers"]
    report = build_report(index)
    assert report.totals.physical_bytes == df["LayersSize"] == sum(layer_store(engine).values())
    assert report.totals.images == len(df["Images"])


@pytest.mark.parametrize("read_store", [False, True], ids=["api-only", "layer-store"])
def test_every_exact_layer_size_matches_the_layer_store(graphdriver_engine: Any, read_store: bool) -> None:
    engine = graphdriver_engine  # Engine 20.10 and 26.1, overlay2
    snapshot = EngineSource(engine.host, read_layer_store=read_store).snapshot()
    store = layer_store(engine)
    assert {la.chain_id for la in snapshot.layers} == set(store)
    for layer in snapshot.layers:
        if layer.size_exact:
            assert layer.size_bytes == store[layer.chain_id], layer.created_by
    estimated = [la for la in snapshot.layers if not la.size_exact]
    if read_store:
        assert not estimated
    else:
        assert len(estimated) <= 4 and any("estimates" in n for n in snapshot.notes)


def test_listed_size_is_the_sum_of_docker_image_ls(graphdriver_engine: Any) -> None:
    engine = graphdriver_engine  # Engine 20.10 and 26.1, overlay2
    rows = engine.docker("image", "ls", "--format", "{{.ID}}").split()
    sizes = {
        i["Id"][7:19]: i["Size"] for i in docker.APIClient(base_url=engine.host, version="auto").images()
    }
    report = build_report(LayerIndex.from_snapshot(EngineSource(engine.host).snapshot()))
    assert report.totals.listed_bytes == sum(sizes[r] for r in rows)
    assert report.totals.tags == sum(
        1 for line in engine.docker("image", "ls", "--format", "{{.Tag}}").split() if line != "<none>"
    )


def test_same_file_on_two_bases_is_stored_twice(graphdriver_engine: Any) -> None:
    engine = graphdriver_engine  # Engine 20.10 and 26.1, overlay2
    index = LayerIndex.from_snapshot(EngineSource(engine.host).snapshot())
    a, b = find_image(index, "same-on-a:1"), find_image(index, "same-on-b:1")
    assert a and b
    top_a, top_b = (image_history(index, i).iloc[-1] for i in (a, b))
    assert top_a["diff_id"] == top_b["diff_id"] and top_a["chain_id"] != top_b["chain_id"]
    store = layer_store(engine)
    assert store[top_a["chain_id"]] == store[top_b["chain_id"]] == 64_000
    assert top_a["shared_with"] == top_b["shared_with"] == 0


def test_history_lists_the_right_instruction_and_size(graphdriver_engine: Any) -> None:
    """The corpus Dockerfiles say which instruction made each layer; the store says its size."""
    engine = graphdriver_engine  # Engine 20.10 and 26.1, overlay2
    index = LayerIndex.from_snapshot(EngineSource(engine.host, read_layer_store=False).snapshot())
    store = layer_store(engine)
    expected = {
        "app-one:1": [
            "Imported",
            "dd if=/dev/urandom",
            "WORKDIR /app",
            "COPY file:",
            "mkdir -p /app/data",
            "echo built",
        ],
        "app-two:1": [
            "Imported",
            "dd if=/dev/urandom",
            "COPY file:",
            "dd if=/dev/urandom of=/big",
            "rm /big",
        ],
        "bk-base:1": ["ADD rootfs.tar"],
        "distro-b:1": ["Imported"],
    }
    for tag, instructions in expected.items():
        image_id = find_image(index, tag)
        assert image_id
        history = image_history(index, image_id)
        shown = [(c or m) for c, m in zip(history["created_by"], history["comment"], strict=True)]
        assert len(shown) == len(instructions), tag
        for text, want in zip(shown, instructions, strict=True):
            assert want in text, (tag, shown)
        assert list(history["size_bytes"]) == [store[c] for c in history["chain_id"]]
        assert history["size_exact"].all() and history["created_by_exact"].all()


def test_buildkit_history_is_exact_with_the_layer_store(graphdriver_engine: Any) -> None:
    engine = graphdriver_engine  # Engine 20.10 and 26.1, overlay2
    index = LayerIndex.from_snapshot(EngineSource(engine.host, read_layer_store=True).snapshot())
    image_id = find_image(index, "bk-app:1")
    assert image_id
    history = image_history(index, image_id)
    assert list(history["size_bytes"]) == [
        store for store in (layer_store(engine)[c] for c in history["chain_id"])
    ]
    assert [s for s in history["size_bytes"]][1:3] == [0, 40_000]
    assert history["created_by"].iloc[2].startswith("COPY server.js")


def test_report_cli_json_matches_system_df_and_hides_secrets(graphdriver_engine: Any) -> None:
    engine = graphdriver_engine  # Engine 20.10 and 26.1, overlay2
    result = cli(engine, "report", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    df = system_df(engine)
    assert doc["totals"]["physical_bytes"] == df["LayersSize"]
    got = {i["id"]: (i["size_bytes"], i["shared_bytes"], i["unique_bytes"]) for i in doc["images"]}
    assert got == {i["Id"]: (i["Size"], i["SharedSize"], i["Size"] - i["SharedSize"]) for i in df["Images"]}
    dangling = [i for i in doc["images"] if i["dangling"]]
    assert len(dangling) == 1 and dangling[0]["tags"] == []
    assert [i["tags"] for i in doc["images"] if "app-one:1" in i["tags"]] == [["app-one:1", "app-one:latest"]]
    everything = cli(engine, "report", "--all", "--format", "json")
    assert len(json.loads(everything.stdout)["images"]) == len(
        docker.APIClient(base_url=engine.host).images(all=True)
    )
    for args in (
        ["report", "--format", "json"],
        ["history", "app-one:1"],
        ["history", "bk-app:1", "-f", "json"],
    ):
        out = cli(engine, *args).stdout
        for secret in ("s3cr3t-value", "dont-print-me", "hunter2", "abc123"):
            assert secret not in out
    assert "dont-print-me" in cli(engine, "history", "--show-values", "app-one:1").stdout


def test_tree_root_to_image_bytes_are_the_engines_size(graphdriver_engine: Any) -> None:
    """layershare tree: the own bytes from a root down to an image add up to its SIZE; the roots' subtrees
    to LayersSize (each stored layer once)."""
    doc = json.loads(cli(graphdriver_engine, "tree", "--format", "json").stdout)
    df = system_df(graphdriver_engine)
    sizes = {i["Id"]: i["Size"] for i in df["Images"]}
    placed = {i["id"]: node["image_bytes"] for node in doc["nodes"] for i in node["images"]}
    assert placed == sizes
    assert sum(doc["nodes"][r]["subtree_bytes"] for r in doc["roots"]) == df["LayersSize"]
    owned = [c for node in doc["nodes"] for c in node["layers"]]
    assert len(owned) == len(set(owned))  # each stored layer once


def test_layershare_only_reads(engine: Any) -> None:
    def state() -> tuple[list[str], list[str]]:
        return (
            sorted(
                engine.docker(
                    "image",
                    "ls",
                    "-a",
                    "--no-trunc",
                    "--format",
                    "{{.ID}} {{.Repository}}:{{.Tag}} {{.Size}}",
                ).splitlines()
            ),
            sorted(
                engine.docker(
                    "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Image}} {{.Status}}"
                ).splitlines()
            ),
        )

    before = state()
    mark = len(engine.log())
    for args in (
        ["report", "--all", "-f", "json"],
        ["history", "app-plus:1"],
        ["report", "-f", "csv"],
    ):
        assert cli(engine, *args).returncode == 0
    calls = api_calls_since(engine, mark)
    assert calls, "dockerd --debug logged no API call"
    assert {method for method, _ in calls} <= {"GET", "HEAD"}, calls
    assert before == state()


class _RemovesOneImage(EngineSource):
    """Removes a real image from the engine just before the collector asks for it."""

    def __init__(self, host: str, victim: str, engine: Any) -> None:
        super().__init__(host, workers=1, read_layer_store=False)
        self.victim, self.engine = victim, engine

    def _fetch_image(self, api: Any, image_id: str) -> Any:
        if image_id == self.victim:
            self.engine.docker("rmi", image_id)
        return super()._fetch_image(api, image_id)


def test_image_removed_while_collecting_is_skipped_with_a_note(engine: Any) -> None:
    engine.docker(
        "build",
        "-q",
        "-t",
        "to-remove:1",
        "-",
        input_bytes=b"FROM distro-b:1\nRUN echo gone > /gone\n",
    )
    victim = engine.docker("image", "inspect", "-f", "{{.Id}}", "to-remove:1").strip()
    snapshot = _RemovesOneImage(engine.host, victim, engine).snapshot()
    assert victim not in {i.id for i in snapshot.images}
    assert any(victim[7:19] in n and "removed" in n for n in snapshot.notes)
    assert len(snapshot.images) > 15


def test_api_only_report_equals_roots_byte_for_byte(graphdriver_engine: Any) -> None:
    """A user who reaches the socket but not the data root reads every image through the API, and
    gets root's report (from the engine's files) exactly, cold and warm, with no estimate left."""
    engine = graphdriver_engine  # Engine 20.10 and 26.1, overlay2
    as_root = cli(engine, "report", "--format", "json", "--no-cache")
    assert as_root.returncode == 0, as_root.stderr
    reports = []
    with tempfile.TemporaryDirectory() as folder:  # one the user can reach and write
        os.chmod(folder, 0o777)
        cache = Path(folder) / "cache"
        for _ in ("cold", "warm"):
            result = run_unprivileged(
                engine, ["report", "--format", "json"], {"LAYERSHARE_CACHE_DIR": str(cache)}
            )
            assert result.returncode == 0, result.stderr
            reports.append(json.loads(result.stdout))
        assert any(p.is_file() for p in cache.rglob("*"))  # the second run was warm
    expected = json.loads(as_root.stdout)
    for doc in [expected, *reports]:
        doc.pop("collected_at")
    assert reports[1] == reports[0]
    api_only = reports[0]
    assert api_only["totals"] == expected["totals"] and api_only["engine"] == expected["engine"]
    # The example images hold two whose zero-byte layers the engine's answers leave in doubt (on
    # purpose): there, and only there, the API-only report says it estimates; all else is root's.
    estimated = [i for i in api_only["images"] if not i["exact"]]
    assert len(estimated) <= 2
    # Both say the same of the layers images share only with their hidden parents (26.1 counts them
    # shared, as df -v does; removing the image frees them too); 20.10 counts them unique.
    parents = [n for n in expected["notes"] if "only with their hidden parents" in n]
    assert [n for n in api_only["notes"] if "only with their hidden parents" in n] == parents
    assert len(parents) == int(expected["engine"]["version"].startswith("26."))
    assert all("estimates" in n for n in api_only["notes"] if n not in parents)
    assert [n for n in expected["notes"] if n not in parents] == []
    roots = {i["id"]: i for i in expected["images"]}
    for image in api_only["images"]:
        if image["exact"]:
            assert image == roots[image["id"]]
        else:
            assert image["size_bytes"] == roots[image["id"]]["size_bytes"]
    layers = {la["chain_id"]: la for la in expected["layers"]}
    exact = [la for la in api_only["layers"] if la["exact"]]
    differ = [
        {k: (v, layers[la["chain_id"]][k]) for k, v in la.items() if v != layers[la["chain_id"]][k]}
        for la in exact
        if la != layers[la["chain_id"]]
    ]
    # Which of several zero-byte entries made a zero-byte layer the API does not say either: only
    # such a layer's instruction may differ (its bytes do not).
    assert all(set(d) == {"created_by"} for d in differ), differ
    assert len(differ) <= 2 and len(layers) - len(exact) <= 4  # the two doubtful images' layers


def test_permission_denied_is_one_line_and_code_4(engine: Any, tmp_path: Path) -> None:
    """A user who may not open the socket gets exit 4 (dropping root in a child process)."""
    script = (
        "import os, sys\n" + IMPORT_EVERYTHING + "import layershare.cli\n"
        "os.setgid(65534); os.setuid(65534)\n"
        "sys.argv = ['layershare', 'report']\n"
        "layershare.cli.main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=engine.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == ExitCode.PERMISSION_DENIED, result.stderr
    assert "permission denied" in result.stderr and result.stderr.count("\n") == 1


def test_docker_contexts_are_honoured(engine: Any, tmp_path: Path) -> None:
    env = {k: v for k, v in engine.env().items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    subprocess.run(
        ["docker", "context", "create", "private", "--docker", f"host={engine.host}"],
        env=env,
        check=True,
        capture_output=True,
    )
    truth = {i["Id"]: i["Size"] for i in system_df(engine)["Images"]}

    def sizes(*args: str, **extra: str) -> dict[str, int]:
        result = subprocess.run(
            [sys.executable, "-m", "layershare", "report", "-f", "json", "--no-cache", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert "(context private)" in doc["engine"]["host"]
        return {i["id"]: i["size_bytes"] for i in doc["images"]}

    assert sizes(DOCKER_CONTEXT="private") == truth
    assert sizes("--context", "private") == truth
    subprocess.run(["docker", "context", "use", "private"], env=env, check=True, capture_output=True)
    assert sizes() == truth  # the docker CLI's current context
    missing = subprocess.run(
        [sys.executable, "-m", "layershare", "report", "--context", "nope"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == ExitCode.ENGINE_UNREACHABLE
    assert missing.stderr.count("\n") == 1 and "nope" in missing.stderr


def test_a_tcp_host_url(tmp_path: Path) -> None:
    import socket

    from support import start_engine

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    private = start_engine(tcp=f"127.0.0.1:{port}")
    try:
        from corpus import BASES, busybox_rootfs

        private.docker("import", "-", "distro-b:1", input_bytes=busybox_rootfs(BASES["distro-b:1"]))
        result = cli(private, "report", "-H", f"tcp://127.0.0.1:{port}", "-f", "json", "--no-cache")
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        df = system_df(private)
        assert doc["engine"]["host"] == f"tcp://127.0.0.1:{port}"
        assert [i["size_bytes"] for i in doc["images"]] == [i["Size"] for i in df["Images"]]
        assert doc["totals"]["physical_bytes"] == df["LayersSize"]
        # Plain TCP is asked by the lean client too: no SDK imported, the same answers.
        probe = (
            "import sys\nfrom layershare.sources.engine import EngineSource\n"
            f"source = EngineSource('tcp://127.0.0.1:{port}', read_layer_store=False)\n"
            "assert source._plain_api() is not None\n"
            "print(len(source.snapshot().images), 'docker' in sys.modules)\n"
        )
        lean = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert lean.stdout.split() == [str(len(df["Images"])), "False"]
    finally:
        private.stop()


def test_a_tcp_host_with_tls(tmp_path: Path) -> None:
    import socket

    from support import start_engine

    certs = tmp_path / "certs"
    certs.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=certs, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", "ca-key.pem", "-out", "ca.pem")  # fmt: skip
    (certs / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server-key.pem",
            "-out", "server.csr")  # fmt: skip
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "1", "-extfile", "ext.cnf", "-out", "server-cert.pem")  # fmt: skip
    (certs / "client.cnf").write_text("extendedKeyUsage=clientAuth\n")
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=client",
        "-keyout",
        "key.pem",
        "-out",
        "client.csr",
    )
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
            "-days", "1", "-extfile", "client.cnf", "-out", "cert.pem")  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    private = start_engine(
        tcp=f"127.0.0.1:{port}",
        extra_args=["--tlsverify", f"--tlscacert={certs / 'ca.pem'}", f"--tlscert={certs / 'server-cert.pem'}",
                    f"--tlskey={certs / 'server-key.pem'}"],
    )  # fmt: skip
    try:
        from corpus import BASES, busybox_rootfs

        private.docker("import", "-", "distro-b:1", input_bytes=busybox_rootfs(BASES["distro-b:1"]))
        env = {k: v for k, v in private.env().items() if k != "DOCKER_HOST"}
        url = f"tcp://127.0.0.1:{port}"

        def report(**extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "layershare", "report", "-H", url, "-f", "json", "--no-cache"],
                env={**env, **extra},
                capture_output=True,
                text=True,
                check=False,
            )

        verified = report(DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(certs))
        assert verified.returncode == 0, verified.stderr
        assert json.loads(verified.stdout)["totals"]["physical_bytes"] == system_df(private)["LayersSize"]
        plain = report()  # no client certificate: the engine refuses, one line
        assert plain.returncode != 0 and plain.stderr.count("\n") == 1
    finally:
        private.stop()


def test_the_python_api_page_runs_as_written(engine: Any, tmp_path: Path) -> None:
    """docs/python.md's code, run against the engine as a user would, in a process of its own."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "python.md").read_text()
    code = page.split("```python\n", 1)[1].split("```", 1)[0]
    probe = code + "\nprint(report.totals.physical_bytes, json.loads(text)['totals']['physical_bytes'])\n"
    env = {**engine.env(), "LAYERSHARE_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", "import json\n" + probe], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    ours, served = map(int, result.stdout.split())
    assert ours == served == system_df(engine)["LayersSize"]
