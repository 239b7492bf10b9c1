"""layershare's container image (``make image``), built without network on a base made from Debian's
packages (mmdebstrap: python3 and python3-venv, then ``docker import``), with the docker CLI on PATH
(no buildx: the classic builder), and run against a private engine through its mounted socket.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engines import cli
from support import ROOT, need, private_engine

pytestmark = pytest.mark.engine

BASE = "debian-python:bookworm"
BASE_TAR = ROOT / ".cache" / "image-base" / "debian-python-bookworm.tar"
VERSION = "0.1.0"


def debian_python_base() -> Path:
    """Debian 12 with python3 and python3-venv, as a root file system tar (made once per machine)."""
    if not BASE_TAR.exists():
        need(
            shutil.which("mmdebstrap") is not None,
            "the image tests need mmdebstrap (apt-get install mmdebstrap)",
        )
        BASE_TAR.parent.mkdir(parents=True, exist_ok=True)
        # mmdebstrap picks its output format from the target's name unless told: say tar.
        partial = BASE_TAR.with_name(BASE_TAR.stem + ".partial.tar")
        partial.unlink(missing_ok=True)
        made = subprocess.run(
            ["mmdebstrap", "--quiet", "--format=tar", "--variant=apt", "--include=python3,python3-venv", "bookworm",
             str(partial)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        need(made.returncode == 0, f"mmdebstrap could not make the base: {made.stderr.strip()[-300:]}")
        partial.rename(BASE_TAR)
    return BASE_TAR


@pytest.fixture(scope="module")
def imaged() -> Iterator[Any]:
    """A private engine holding the example images, the base and layershare's image built on it."""
    tar = debian_python_base()
    with private_engine("20.10-overlay2") as engine:
        engine.docker("import", str(tar), BASE)
        built = subprocess.run(
            ["make", "image", f"BASE={BASE}"],
            cwd=ROOT, env={**engine.env(), "PYTHON": sys.executable}, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        fleet = subprocess.run(
            ["make", "image", f"BASE={BASE}", "EXTRAS=fleet"],
            cwd=ROOT, env={**engine.env(), "PYTHON": sys.executable}, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert fleet.returncode == 0, fleet.stdout[-3000:] + fleet.stderr[-3000:]
        engine.built = built
        yield engine


def run(
    engine: Any, *args: str, options: tuple[str, ...] = (), data_root: bool = True, tag: str = VERSION
) -> subprocess.CompletedProcess[str]:
    """``docker run`` of the image with the engine's socket at /var/run/docker.sock (and its data root
    read-only at the same path): what a user runs."""
    mounts = ["-v", f"{engine.socket}:/var/run/docker.sock"]
    if data_root:
        mounts += ["-v", f"{engine.data_root}:{engine.data_root}:ro"]
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", *mounts, *options, f"layershare:{tag}", *args],
        env=engine.env(), capture_output=True, text=True, check=False,
    )  # fmt: skip


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs by where it ran: when, the engine's address, and the container
    count of layershare's own image (its container runs while it reports)."""
    images = [
        {**i, "containers": None} if any(t.startswith("layershare:") for t in i["tags"]) else i
        for i in doc["images"]
    ]
    return {**doc, "collected_at": None, "engine": {**doc["engine"], "host": None}, "images": images}


def test_make_image_tags_both_and_holds_only_the_venv(imaged: Any) -> None:
    inspect = json.loads(imaged.docker("image", "inspect", f"layershare:{VERSION}"))[0]
    assert set(inspect["RepoTags"]) == {f"layershare:{VERSION}", "layershare:latest"}
    config = inspect["Config"]
    assert config["Entrypoint"] == ["layershare"] and not config.get("Volumes") and not config.get("User")
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.licenses"] == "MIT" and labels["org.opencontainers.image.source"]
    assert "--network=none" in (ROOT / ".ci" / "image").read_text()


SITE = "/opt/layershare/lib/python3*/site-packages"
INSIDE = (
    "command -v gcc cc pip pip3 || true; ls /root/.cache 2>/dev/null || true; "
    f"ls {SITE} | grep -c -i -E '^(duckdb|pyarrow)$' || true; "
    f"ls {SITE} | grep -c -i pyspark || true; "
    f"ls {SITE} | grep -c -E '^(pip|setuptools|pkg_resources|_distutils_hack)$|distutils-precedence' || true; "
    f"find {SITE} -type d -name tests | wc -l; "
    "find /opt/layershare/lib -name '*.pyc' -path '*layershare*' | head -1"
)


@pytest.mark.parametrize(("tag", "fleet"), [(VERSION, 0), (f"{VERSION}-fleet", 2)])
def test_the_image_holds_what_an_import_needs_and_no_more(imaged: Any, tag: str, fleet: int) -> None:
    """No compiler, pip, setuptools or dependencies' test suites; DuckDB and Arrow only in the fleet
    variant; Spark in neither; bytecode compiled at build time."""
    inside = imaged.docker(
        "run", "--rm", "--network", "none", "--entrypoint", "sh", f"layershare:{tag}", "-c", INSIDE
    ).split()  # fmt: skip
    assert inside[:4] == [str(fleet), "0", "0", "0"], inside
    assert inside[4].endswith(".pyc")


def test_its_own_layer_is_at_most_150_mb_by_its_own_history(imaged: Any) -> None:
    """The layer layershare adds to its base (its venv), as ``layershare history`` of the image sizes it."""
    done = cli(imaged, "history", f"layershare:{VERSION}", "--format", "json")
    assert done.returncode == 0, done.stderr
    layers = json.loads(done.stdout)["layers"]
    own = [layer for layer in layers if layer["shared_with"] == 0 and layer["size_bytes"] > 0]
    assert len(own) == 1 and "/opt/layershare" in own[0]["created_by"], layers
    assert own[0]["size_bytes"] <= 150_000_000, own[0]


def test_the_fleet_variant_exports_and_the_default_says_which_to_use(imaged: Any, tmp_path: Path) -> None:
    tags = json.loads(imaged.docker("image", "inspect", f"layershare:{VERSION}-fleet"))[0]["RepoTags"]
    assert set(tags) == {f"layershare:{VERSION}-fleet", "layershare:fleet"}
    folder = tmp_path / "fleet"
    folder.mkdir()
    exported = run(imaged, "export", "--to", "/fleet", "--host-name", "node-1",
                   options=("-v", f"{folder}:/fleet"), tag=f"{VERSION}-fleet")  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert list((folder / "hosts").glob("*.parquet"))
    plain = run(imaged, "export", "--to", "/tmp/fleet")
    assert plain.returncode == 2 and len(plain.stderr.strip().splitlines()) == 1
    assert "-fleet tag" in plain.stderr and "Traceback" not in plain.stderr


def test_report_in_the_container_is_the_hosts(imaged: Any) -> None:
    done = run(imaged, "report", "--format", "json")
    assert done.returncode == 0, done.stderr
    host = cli(imaged, "report", "--format", "json", "--no-cache")
    assert comparable(json.loads(done.stdout)) == comparable(json.loads(host.stdout))
    # Only the socket, no data root: the same figures (the engine's answers), as the docker group sees them.
    bare = run(imaged, "report", "--format", "json", data_root=False)
    assert bare.returncode == 0, bare.stderr
    assert (
        json.loads(bare.stdout)["totals"]["physical_bytes"]
        == json.loads(host.stdout)["totals"]["physical_bytes"]
    )


def test_disk_in_the_container_reads_the_mounted_data_root(imaged: Any) -> None:
    done = run(imaged, "disk", "--format", "json")
    assert done.returncode == 0, done.stderr
    inside, host = json.loads(done.stdout), json.loads(cli(imaged, "disk", "--format", "json").stdout)
    assert inside["data_root_readable"]
    by = {c["category"]: c for c in inside["categories"]}
    for name in ("images", "volumes", "build_cache", "orphans"):
        theirs = next(c for c in host["categories"] if c["category"] == name)
        assert (by[name]["bytes"], by[name]["disk_bytes"]) == (theirs["bytes"], theirs["disk_bytes"]), name
    # What a prune would take of the images differs by one: layershare's running container keeps its own.
    # layershare's own container is one of those it counts: running, nothing written.
    own = [c for c in inside["containers"] if c["image"].startswith("layershare")]
    assert len(own) == 1 and own[0]["state"] == "running" and own[0]["size_rw_bytes"] == 0
    without = run(imaged, "disk", "--format", "json", data_root=False)
    assert without.returncode == 0, without.stderr
    blind = json.loads(without.stdout)
    assert not blind["data_root_readable"] and any("not readable" in n for n in blind["notes"])


def test_free_in_the_container_is_the_hosts(imaged: Any) -> None:
    done = run(imaged, "free", "app-*", "--format", "json")
    assert done.returncode == 0, done.stderr
    inside, host = (
        json.loads(done.stdout),
        json.loads(cli(imaged, "free", "app-*", "--format", "json").stdout),
    )
    for key in ("freed_bytes", "freed_disk_bytes", "commands"):
        assert inside[key] == host[key], key
    assert inside["freed_disk_bytes"] is not None  # the data root, mounted read-only, was read


def test_as_a_user_of_the_sockets_group(imaged: Any) -> None:
    gid = os.stat(imaged.socket).st_gid
    as_user = ("--user", "65534", "--group-add", str(gid))
    os.chmod(imaged.socket, 0o660)
    done = run(imaged, "report", "--format", "json", options=as_user)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["images"] > 0
    disk = run(imaged, "disk", options=as_user)
    assert disk.returncode == 0, disk.stderr
    assert "need root" in disk.stdout or "needs root" in disk.stdout, disk.stdout


def test_browse_runs_in_the_container_with_docker_run_it(imaged: Any, tmp_path: Path) -> None:
    """README's one-liner in a real terminal (tmux): the disk view with the data root mounted, a mark,
    q, and the plan printed on the terminal once the UI is gone."""
    need(shutil.which("tmux") is not None, "browse's terminal tests need tmux (apt-get install tmux)")
    name, rc = f"image-browse-{os.getpid()}", tmp_path / "rc"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in imaged.env().items() if k.startswith("DOCKER"))
    command = (
        f"env {env} docker run --rm -it --network none -v {imaged.socket}:/var/run/docker.sock "
        f"-v {imaged.data_root}:{imaged.data_root}:ro layershare:{VERSION} browse; echo $? > {rc}; sleep 600"
    )
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "100", "-y", "30", command], check=True)

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip

    def wait_for(text: str) -> str:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if text in (shown := screen()):
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared:\n{screen()}")

    try:
        shown = wait_for("Marked 0 · frees")  # the first screen: the walk of the data root may still be going
        deadline = time.monotonic() + 90
        while "sizing…" in shown and time.monotonic() < deadline:
            time.sleep(0.2)
            shown = screen()
        assert "sizing…" not in shown, shown  # the data root was walked: every size is there
        assert "images (stored layers)" in shown and "container logs" in shown
        for keys in (["/images*", "Enter", "Enter"], ["/overwrite:1", "Enter", "Space"]):
            subprocess.run(["tmux", "send-keys", "-t", name, *keys], check=True)
            time.sleep(0.5)
        assert "Marked 1 · frees" in wait_for("Marked 1"), screen()
        subprocess.run(["tmux", "send-keys", "-t", name, "q"], check=True)
        wait_for("docker image rm overwrite:1")  # the plan, on the terminal after the UI
        deadline = time.monotonic() + 60  # docker run returns once the container is gone
        while not (rc.exists() and rc.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert rc.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True)


def test_nothing_is_written_inside_unless_a_cache_is_mounted(imaged: Any) -> None:
    name = "layershare-writes-nothing"
    done = subprocess.run(
        ["docker", "run", "--name", name, "--network", "none", "-v", f"{imaged.socket}:/var/run/docker.sock",
         f"layershare:{VERSION}", "report"],
        env=imaged.env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    try:
        changed = set(imaged.docker("diff", name).splitlines())
        mount_point = {"C /run", "A /run/docker.sock", "C /var", "C /var/run", "A /var/run/docker.sock"}
        assert changed <= mount_point, changed - mount_point  # only where docker mounted the socket
    finally:
        imaged.docker("rm", name)
    assert run(imaged, "report", options=("-v", "layershare-cache:/cache")).returncode == 0
    cached = imaged.docker(
        "run", "--rm", "--network", "none", "-v", "layershare-cache:/cache", "--entrypoint", "find",
        f"layershare:{VERSION}", "/cache", "-type", "f",
    ).split()  # fmt: skip
    assert cached, "the mounted cache stayed empty"


def test_the_image_passes_its_own_policy(imaged: Any) -> None:
    done = cli(
        imaged,
        "check",
        f"layershare:{VERSION}",
        "--config",
        str(ROOT / "examples" / "layershare-image-policy.toml"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout
