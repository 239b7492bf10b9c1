"""An engine over ssh, reached as the docker CLI reaches it: ``ssh [-l user] [-p port] -- host docker
system dial-stdio``, and HTTP over that process's stdin and stdout.

The user's own ``ssh`` does the connecting, so ``~/.ssh/config`` applies (aliases, ports, keys,
``ProxyJump``: ``-p`` is passed only where the URL names a port), with the user's agent and
``known_hosts``. One ssh process is one kept-alive HTTP connection
(:class:`~layershare.sources.engine.plain_api.PlainAPI` keeps one per thread), never one per request.
When ssh itself fails (a host key, a refused connection, no ``docker`` on the remote ``PATH``), its
own last words on stderr say why.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, cast
from urllib.parse import unquote, urlsplit

# A remote engine is waited on, not computed with; each thread holds one ssh process.
SSH_WORKERS = 2


@dataclass(frozen=True)
class SshEndpoint:
    """``ssh://[user@]host[:port]``: ``host`` as written (a name, an address or an alias of
    ``~/.ssh/config``), ``user`` and ``port`` only where the URL names them."""

    host: str
    user: str | None = None
    port: int | None = None

    def command(self) -> list[str]:
        """The ssh command line the docker CLI runs for this endpoint."""
        args = ["ssh"]
        if self.user:
            args += ["-l", self.user]
        if self.port:
            args += ["-p", str(self.port)]
        return [*args, "--", self.host, "docker", "system", "dial-stdio"]


def ssh_endpoint(url: str) -> SshEndpoint | None:
    """The endpoint of an ``ssh://`` URL; None for anything else (a path after the host included)."""
    if not url.startswith("ssh://"):
        return None
    parsed = urlsplit(url)
    if not parsed.hostname or parsed.path not in ("", "/"):
        return None
    host = parsed.hostname if ":" not in parsed.hostname else f"[{parsed.hostname}]"
    return SshEndpoint(host, unquote(parsed.username) if parsed.username else None, parsed.port)


class SshStream:
    """One ``docker system dial-stdio`` over ssh: what a socket is to a plain connection (``sendall``,
    a reader of its answers, ``close``), and ssh's own words once it has failed."""

    def __init__(self, endpoint: SshEndpoint) -> None:
        # ssh's stderr: a file (closed in close()), so a chatty ssh never blocks
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                endpoint.command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.errors,
                bufsize=0,
            )
        except OSError:
            self.errors.close()
            raise
        # Buffered, as a socket's makefile is: a raw pipe's read(n) returns what one read gave, and an
        # answer larger than a pipe's buffer would come short.
        self.reader = cast(BinaryIO, io.BufferedReader(cast(io.RawIOBase, self.process.stdout), 1 << 16))
        self.ended = False  # its answers ended (EOF): the process is going, by itself

    def readline(self, limit: int) -> bytes:
        """One line of an answer; b"" once ssh's output has ended (then :attr:`ended`)."""
        line = self.reader.readline(limit)
        self.ended = self.ended or not line
        return line

    def sendall(self, data: bytes) -> None:
        """Send ``data`` to the engine (BrokenPipeError once ssh has gone)."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(data)
        stdin.flush()

    def failure(self) -> str:
        """ssh's last line on stderr, once the process has ended ("" while it runs or said nothing)."""
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return ""
        self.errors.seek(0)
        lines = [line.strip() for line in self.errors.read().decode(errors="replace").splitlines()]
        said = [line for line in lines if line and not line.startswith("Warning: Permanently added")]
        return said[-1] if said else f"ssh ended with exit status {self.process.returncode}"

    def close(self) -> str:
        """End the ssh process and its pipes; ssh's own last words where it had ended by itself."""
        said = self.failure() if self.ended or self.process.poll() is not None else ""
        for pipe in (self.process.stdin, self.reader):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.errors.close()
        return said
