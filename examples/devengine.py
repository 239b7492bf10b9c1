"""A private, throwaway Docker Engine for demos and tests.

Starts ``dockerd`` with its own data root, exec root and socket under a fresh
folder, so it never touches a system engine or ``/var/lib/docker``. Needs root
and a ``dockerd`` binary (Debian: ``apt-get install docker.io``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class PrivateEngineError(RuntimeError):
    """The private engine could not be started."""


@dataclass
class PrivateEngine:
    """A running private dockerd; ``host`` is its ``unix://`` URL."""

    folder: Path
    process: subprocess.Popen[bytes]
    command: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    client: str = ""  # the folder of the docker CLI to drive it with, first on PATH ("": PATH's own)

    @property
    def socket(self) -> Path:
        """The engine's unix socket."""
        return self.folder / "docker.sock"

    @property
    def host(self) -> str:
        """The DOCKER_HOST URL that reaches this engine."""
        return f"unix://{self.socket}"

    @property
    def data_root(self) -> Path:
        """The engine's --data-root."""
        return self.folder / "root"

    def env(self) -> dict[str, str]:
        """A copy of the environment pointing the docker CLI and SDK at this engine."""
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env.pop("DOCKER_CONTEXT", None)
        env["DOCKER_BUILDKIT"] = "0"
        env["DOCKER_CLI_HINTS"] = "false"
        if self.client:
            env["PATH"] = f"{self.client}:{env.get('PATH', '')}"
        return env

    def docker(self, *args: str, input_bytes: bytes | None = None, cwd: str | Path | None = None) -> str:
        """Run the docker CLI against this engine; return stdout, raise on failure."""
        result = subprocess.run(
            ["docker", *args],
            env=self.env(),
            input=input_bytes,
            cwd=cwd,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise PrivateEngineError(
                f"docker {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}"
            )
        return result.stdout.decode()

    def log(self) -> str:
        """What dockerd has logged so far."""
        return (self.folder / "dockerd.log").read_text(errors="replace")

    def halt(self) -> None:
        """Stop the engine's process but keep its folder (images stay): :meth:`resume` starts it again."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)

    def resume(self, timeout: float = 60.0) -> None:
        """Start a halted engine again with the same options and wait until it answers."""
        log = open(self.folder / "dockerd.log", "ab")  # noqa: SIM115 - lives as long as the engine
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env=self.environment, start_new_session=True
        )
        _wait_until_up(self, timeout)

    def stop(self) -> None:
        """Stop the engine and remove its folder."""
        _stop(self.process, self.folder)


def _stop(process: subprocess.Popen[bytes], folder: Path) -> None:
    """Stop a private daemon (SIGTERM, then SIGKILL after 30 s), unmount what it left mounted under its
    folder (podman leaves ``root/overlay``, which is not ``root`` itself) and remove its folder."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    inside = f"{folder}/"
    try:
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        mounts = []
    for point in sorted((m for m in mounts if m.startswith(inside)), key=len, reverse=True):  # deepest first
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    shutil.rmtree(folder, ignore_errors=True)


def start_private_engine(
    *,
    containerd_store: bool = False,
    debug: bool = False,
    timeout: float = 60.0,
    dockerd: str | Path | None = None,
    tcp: str | None = None,
    extra_args: list[str] | None = None,
    client: str | Path | None = None,
    extra_env: dict[str, str] | None = None,
    daemon_config: dict[str, object] | None = None,
) -> PrivateEngine:
    """Start a private dockerd and wait until it answers.

    ``debug`` makes dockerd log every API call it serves (``Calling GET /...``)
    in ``dockerd.log``, which tests read to prove layershare only reads.
    ``dockerd`` names another engine's binary (an unpacked package's
    ``usr/sbin/dockerd``, whose ``usr/bin`` holds containerd, or Docker's static bundle, whose
    folder holds containerd, runc and the CLI): its folders go first on PATH.
    ``tcp`` (``127.0.0.1:PORT``) makes it listen there too, without TLS: for tests only.
    ``client`` is the folder of the docker CLI that drives it (first on PATH in :meth:`PrivateEngine.env`);
    ``extra_env`` goes to dockerd (``DOCKER_MIN_API_VERSION=1.41`` lets Engine 29 serve a 20.10 CLI);
    ``daemon_config`` adds settings to its daemon.json (``{"builder": {"gc": …}}``).
    """
    env = {**os.environ, **(extra_env or {})}
    if dockerd is not None:
        binary = Path(dockerd).resolve()
        # An unpacked package keeps containerd in ../bin; Docker's static bundle beside dockerd.
        env["PATH"] = f"{binary.parent}:{binary.parent.parent / 'bin'}:{env.get('PATH', '')}"
    else:
        found = shutil.which("dockerd")
        if found is None:
            raise PrivateEngineError("no dockerd on PATH (Debian: apt-get install docker.io)")
        binary = Path(found)
    folder = Path(tempfile.mkdtemp(prefix="layershare-engine-"))
    config = folder / "daemon.json"
    config.write_text(
        json.dumps({"features": {"containerd-snapshotter": containerd_store}, **(daemon_config or {})})
    )
    log = open(folder / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as the engine
    command = [
            str(binary),
            "--data-root", str(folder / "root"),
            "--exec-root", str(folder / "exec"),
            "-H", f"unix://{folder / 'docker.sock'}",
            *(["-H", f"tcp://{tcp}"] if tcp else []),
            *(extra_args or []),
            "--pidfile", str(folder / "docker.pid"),
            "--config-file", str(config),
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            *(["--debug"] if debug else []),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    engine = PrivateEngine(folder, process, command, env, str(client or ""))
    return _wait_until_up(engine, timeout)


def _wait_until_up(engine: PrivateEngine, timeout: float) -> PrivateEngine:
    """Poll ``docker version`` until the engine answers; stop it and raise if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine.process.poll() is not None:
            text = (engine.folder / "dockerd.log").read_text(errors="replace")[-2000:]
            engine.stop()
            raise PrivateEngineError(f"the engine exited with {engine.process.returncode}: {text}")
        probe = subprocess.run(["docker", "version"], env=engine.env(), capture_output=True, check=False)
        if probe.returncode == 0:
            return engine
        time.sleep(0.2)
    engine.stop()
    raise PrivateEngineError(f"the engine did not answer within {timeout:.0f}s")


def start_private_podman(*, timeout: float = 60.0) -> PrivateEngine:
    """Start ``podman system service`` (its Docker-compatible API) on a private root and socket.

    Needs ``podman`` (Debian: ``apt-get install podman``). The docker CLI and
    SDK reach it through :attr:`PrivateEngine.host` like any engine.
    """
    podman = shutil.which("podman")
    if podman is None:
        raise PrivateEngineError("no podman on PATH (Debian: apt-get install podman)")
    folder = Path(tempfile.mkdtemp(prefix="layershare-podman-"))
    log = open(folder / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as the service
    process = subprocess.Popen(
        [
            podman,
            "--root", str(folder / "root"),
            "--runroot", str(folder / "exec"),
            "system", "service", "--time=0", f"unix://{folder / 'docker.sock'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    return _wait_until_up(PrivateEngine(folder, process), timeout)


@dataclass
class PrivateContainerd:
    """A running private containerd (a Kubernetes node's runtime, without Kubernetes); ``root`` is its
    root folder, what ``layershare --containerd-root`` reads."""

    folder: Path
    process: subprocess.Popen[bytes]
    ctr_binary: str = "ctr"

    @property
    def root(self) -> Path:
        """containerd's root folder (``/var/lib/containerd`` on a node)."""
        return self.folder / "root"

    @property
    def socket(self) -> Path:
        """containerd's gRPC socket."""
        return self.folder / "containerd.sock"

    def ctr(self, namespace: str, *args: str) -> str:
        """Run containerd's own ``ctr`` in a namespace; return stdout, raise on failure."""
        result = subprocess.run(
            [self.ctr_binary, "-a", str(self.socket), "-n", namespace, *args],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise PrivateEngineError(
                f"ctr -n {namespace} {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}"
            )
        return result.stdout.decode()

    def import_archive(self, namespace: str, archive: str | Path) -> None:
        """Load a ``docker save`` archive into a namespace and unpack it (overlayfs), as a node pulls."""
        self.ctr(namespace, "images", "import", "--snapshotter", "overlayfs", str(archive))

    def stop(self) -> None:
        """Stop containerd and remove its folder."""
        _stop(self.process, self.folder)


def start_private_containerd(
    *, timeout: float = 60.0, binaries: str | Path | None = None
) -> PrivateContainerd:
    """Start ``containerd`` on a private root, state folder and socket, the CRI plugin off.

    ``binaries`` is a folder holding another ``containerd`` and its ``ctr`` (Docker's static bundle has
    containerd 2.1); by default Debian's (``apt-get install containerd``). Needs root.
    """
    binary = str(Path(binaries, "containerd")) if binaries else shutil.which("containerd")
    if binary is None or not Path(binary).exists():
        raise PrivateEngineError("no containerd on PATH (Debian: apt-get install containerd)")
    ctr = str(Path(binaries, "ctr")) if binaries else "ctr"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
    found = re.search(r"\sv?(\d+)\.\d+\.\d+", version)  # "containerd github.com/... 2.1.9+unknown"
    major = int(found.group(1)) if found else 1
    folder = Path(tempfile.mkdtemp(prefix="layershare-containerd-"))
    config = folder / "config.toml"
    # containerd 2 splits the CRI plugin in three; version 3 is its configuration format.
    cri = (
        '"io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"'
        if major >= 2
        else '"io.containerd.grpc.v1.cri"'
    )
    config.write_text(
        f"version = {3 if major >= 2 else 2}\n"
        f'root = "{folder / "root"}"\n'
        f'state = "{folder / "state"}"\n'
        f"disabled_plugins = [{cri}]\n"
        "[grpc]\n"
        f'  address = "{folder / "containerd.sock"}"\n'
    )
    log = open(folder / "containerd.log", "wb")  # noqa: SIM115 - lives as long as containerd
    process = subprocess.Popen(
        [binary, "--config", str(config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    node = PrivateContainerd(folder, process, ctr)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = (folder / "containerd.log").read_text(errors="replace")[-2000:]
            node.stop()
            raise PrivateEngineError(f"containerd exited with {process.returncode}: {text}")
        probe = subprocess.run([ctr, "-a", str(node.socket), "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return node
        time.sleep(0.2)
    node.stop()
    raise PrivateEngineError(f"containerd did not answer within {timeout:.0f}s")
