"""A remote engine over ssh, as the docker CLI reaches one: a real sshd on loopback (Debian's
openssh-server, a throwaway key, ``SetEnv DOCKER_HOST`` pointing its sessions at a private engine;
:mod:`devsshd`) and the user's own ``ssh`` (here with ``-F`` a config of the test's own, never
``~/.ssh``). An explicit URL, an alias whose port only ``~/.ssh/config`` names, and a docker context
give the engine's exact figures with the project's own dependencies; a failing host key and a remote
without ``docker`` are one line each with the exit code of an unreachable engine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import system_df
from support import cli as in_process
from support import private_engine

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def remote() -> Iterator[Any]:
    """A private 20.10 engine with the example images behind a private sshd."""
    from devsshd import start_private_sshd

    with private_engine("20.10-overlay2") as engine:
        sshd = start_private_sshd(engine.host)
        engine.sshd = sshd
        try:
            yield engine
        finally:
            sshd.stop()


def over_ssh(remote: Any, *args: str, **env: str) -> Any:
    """``layershare ARGS`` with the test's ssh first on PATH and ``env`` (DOCKER_HOST, a context…)."""
    return in_process(*args, env=remote.sshd.env(**env))


def local(remote: Any, *args: str) -> dict[str, Any]:
    result = in_process(*args, "--format", "json", env={**remote.env()})
    assert result.returncode == 0, result.stderr
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def figures(doc: dict[str, Any]) -> dict[str, Any]:
    """A report's totals and each image's SIZE, SHARED and UNIQUE."""
    images = {i["id"]: (i["size_bytes"], i["shared_bytes"], i["unique_bytes"]) for i in doc["images"]}
    return {"totals": doc["totals"], "images": images}


def context(remote: Any, host: str, tmp_path: Path) -> dict[str, str]:
    """A docker config folder of the test's own with a context named ``far`` at ``host``."""
    config = tmp_path / "docker-config"
    meta = config / "contexts" / "meta" / hashlib.sha256(b"far").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": "far", "Endpoints": {"docker": {"Host": host}}}))
    return {"DOCKER_CONFIG": str(config), "DOCKER_CONTEXT": "far"}


@pytest.mark.parametrize("how", ["url", "alias", "context"])
def test_a_report_over_ssh_is_the_engines(remote: Any, how: str, tmp_path: Path) -> None:
    env = {
        "url": {"DOCKER_HOST": remote.sshd.url},
        "alias": {"DOCKER_HOST": "ssh://lsremote"},  # the port is only in the ssh config
        "context": context(remote, "ssh://lsremote", tmp_path),
    }[how]
    result = over_ssh(remote, "report", "--format", "json", "--no-cache", **env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["totals"]["physical_bytes"] == system_df(remote)["LayersSize"]
    # No file of the engine's host is read over ssh (the engine's answers alone, as the docker group
    # has them): the same totals and images' figures as on the engine's host.
    assert figures(doc) == figures(local(remote, "report", "--no-cache"))
    if how == "context":
        assert "(context far)" in doc["engine"]["host"]


COMMANDS = [
    ["history", "app-plus:1"],
    ["tree"],
    ["free", "app-*"],
    ["disk"],
    ["check"],
    ["diff", "app-one:1", "app-plus:1"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[a[0] for a in COMMANDS])
def test_every_reading_command_works_over_ssh(remote: Any, args: list[str]) -> None:
    result = over_ssh(remote, *args, "--format", "json", DOCKER_HOST=remote.sshd.url)
    assert result.returncode in (0, 1), result.stderr  # check may fail a rule
    doc = json.loads(result.stdout)
    if args[0] == "free":  # the engine's own accounting, as the engine's host has it
        assert doc["freed_bytes"] == local(remote, *args)["freed_bytes"] > 0
    if args[0] == "history":  # each layer's size, as the engine's history gives it
        assert [layer["size_bytes"] for layer in doc["layers"]] == [
            layer["size_bytes"] for layer in local(remote, *args)["layers"]
        ]
    if args[0] == "disk":  # the engine's figures only: this host's folders are not the remote's
        assert not doc["data_root_readable"] and any("not readable" in n for n in doc["notes"])
    metrics = over_ssh(remote, "metrics", DOCKER_HOST=remote.sshd.url)
    assert metrics.returncode == 0 and "layershare_up 1" in metrics.stdout.replace('{host="', " ")


def test_a_host_key_that_fails_is_ssh_s_own_words(remote: Any) -> None:
    known = remote.sshd.folder / "known_hosts"
    kept = known.read_text()
    other = remote.sshd.folder / "other"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known.write_text(
        f"[127.0.0.1]:{remote.sshd.port} {' '.join(Path(f'{other}.pub').read_text().split()[:2])}\n"
    )
    try:
        result = over_ssh(remote, "report", DOCKER_HOST=remote.sshd.url)
    finally:
        known.write_text(kept)
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "over ssh" in result.stderr and "Host key verification failed" in result.stderr


def test_a_remote_without_docker_is_one_line(remote: Any) -> None:
    port = remote.sshd.another(PATH="/nowhere")
    result = over_ssh(remote, "report", DOCKER_HOST=f"ssh://root@127.0.0.1:{port}")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "docker: command not found" in result.stderr


def test_a_refused_connection_is_one_line(remote: Any) -> None:
    from devsshd import free_port

    result = over_ssh(remote, "report", DOCKER_HOST=f"ssh://root@127.0.0.1:{free_port()}")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Connection refused" in result.stderr


def test_an_images_export_streams_over_ssh(remote: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What browse's files of a layer and ``diff --files`` read without the engine's files: the export,
    through layershare's own client over ssh (no SDK), equal to the one over the engine's socket."""
    from layershare import EngineSource

    image_id = remote.docker("image", "inspect", "-f", "{{.Id}}", "app-plus:1").strip()
    monkeypatch.setenv("PATH", remote.sshd.env()["PATH"])
    with EngineSource(remote.sshd.url) as far, EngineSource(remote.host) as near:
        exported = far.image_content(image_id)
        assert exported == near.image_content(image_id) and exported.layers
        with pytest.raises(Exception, match="no longer on the engine"):
            far.image_content("sha256:" + "0" * 64)


def test_browse_over_ssh_marks_what_free_says(remote: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """browse over ssh (headless, Textual's pilot): the images view, every app-* image marked, and the
    status line's figure is ``free``'s over the same ssh."""
    from test_browse_engine import filtered, pilot, status_of

    for key, value in remote.sshd.env(DOCKER_HOST=remote.sshd.url).items():
        monkeypatch.setenv(key, value)
    seen: dict[str, tuple[int, int]] = {}
    pilot(remote, [*filtered("app-*"), "A"], view="images", host=remote.sshd.url,
          check=lambda app: seen.update(status=status_of(app)))  # fmt: skip
    doc = json.loads(
        over_ssh(remote, "free", "app-*", "--format", "json", DOCKER_HOST=remote.sshd.url).stdout
    )
    assert seen["status"][1] == doc["freed_bytes"] > 0


def test_dupes_over_ssh_reads_the_export_and_gets_the_hosts_figures(remote: Any) -> None:
    """``dupes`` over ssh: no file of the engine's host is read, so every layer comes from the engine's
    export, streamed through ssh; the figures and contents are those read from the layer store there."""
    result = over_ssh(remote, "dupes", "--format", "json", "--no-cache", DOCKER_HOST=remote.sshd.url)
    assert result.returncode == 0, result.stderr
    far, here = json.loads(result.stdout), local(remote, "dupes", "--no-cache")
    assert far["read_from"] == "the engine's export" and here["read_from"] == "the layer store's folders"
    keys = ["stored_layers", "stored_files", "stored_bytes", "duplicate_bytes", "consolidatable_bytes"]
    assert {k: far[k] for k in keys} == {k: here[k] for k in keys} and far["duplicate_bytes"] > 0
    assert far["groups"] == here["groups"]
