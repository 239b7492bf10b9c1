"""A private sshd on loopback in front of a private engine: a "remote" engine for the ssh tests and
benchmarks, touching nothing of the user's own ssh setup.

Debian's ``openssh-server`` runs as root from a throwaway folder: its own host key, an authorized
key made for the occasion, and ``SetEnv DOCKER_HOST=…`` so that ``docker system dial-stdio`` in a
session reaches the engine. The client side is a folder too: an ``ssh_config`` (an alias
``lsremote`` whose port only the config names), a ``known_hosts`` holding the host key, and an
``ssh`` on ``PATH`` that runs the real one with ``-F`` that config, so ``~/.ssh`` is never read.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
ALIAS = "lsremote"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateSshd:
    """A running private sshd and its client folder (:func:`start_private_sshd`)."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``ssh://root@127.0.0.1:PORT``."""
        return f"ssh://root@127.0.0.1:{self.port}"

    def env(self, **more: str) -> dict[str, str]:
        """The environment of a client: the ``ssh`` wrapper first on ``PATH``, no ``DOCKER_*`` of ours."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return {**base, "PATH": f"{self.folder / 'bin'}:{os.environ.get('PATH', '')}", **more}

    def another(self, **session_env: str) -> int:
        """Another sshd on a port of its own, its sessions' environment given ``session_env`` too
        (``PATH="/nowhere"``: a remote without ``docker``)."""
        port = free_port()
        config = self.folder / f"sshd_config_{port}"
        text = (self.folder / "sshd_config").read_text().replace(f"Port {self.port}", f"Port {port}")
        extra = "".join(f"{k}={v} " for k, v in session_env.items())
        config.write_text(text.replace("PidFile", f"# PidFile {port}").replace("SetEnv ", f"SetEnv {extra}"))
        known = (self.folder / "known_hosts").read_text().splitlines()[0].split(" ", 1)[1]
        with open(self.folder / "known_hosts", "a") as hosts:
            hosts.write(f"[127.0.0.1]:{port} {known}\n")
        self.extra.append(_start(config, port))
        return port

    def stop(self) -> None:
        for process in (self.process, *self.extra):
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _start(config: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"sshd exited at once (see {config})") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("sshd did not listen in time")


def start_private_sshd(docker_host: str) -> PrivateSshd:
    """An sshd on a free loopback port whose sessions reach ``docker_host`` (root, key only)."""
    if not Path(SSHD).exists():
        raise RuntimeError("no sshd: apt-get install openssh-server")
    folder = Path(tempfile.mkdtemp(prefix="layershare-sshd-"))
    keygen = ["ssh-keygen", "-q", "-t", "ed25519", "-N", ""]
    subprocess.run([*keygen, "-f", str(folder / "host_key")], check=True)
    subprocess.run([*keygen, "-f", str(folder / "id")], check=True)
    shutil.copy(folder / "id.pub", folder / "authorized_keys")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation folder
    port = free_port()
    (folder / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"PidFile {folder / 'sshd.pid'}\nAuthorizedKeysFile {folder / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nLogLevel ERROR\n"
        f"SetEnv DOCKER_HOST={docker_host}\n"
    )
    host_key = (folder / "host_key.pub").read_text().split()
    (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    (folder / "ssh_config").write_text(
        f"Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
        f"Host *\n  IdentityFile {folder / 'id'}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {folder / 'known_hosts'}\n  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n"
    )
    (folder / "bin").mkdir()
    wrapper = folder / "bin" / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {folder / "ssh_config"} "$@"\n')
    wrapper.chmod(0o755)
    return PrivateSshd(folder, port, _start(folder / "sshd_config", port))
