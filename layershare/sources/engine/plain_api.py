"""A GET-only JSON client for an engine on a unix socket or plain TCP, without the Docker SDK.

Importing the SDK (and ``requests``) costs about 0.15 s, and each request through it
about a millisecond; this client is the standard library's sockets, one persistent
connection per thread (:class:`_Connection`), the API version negotiated once from
``GET /version`` as the SDK does. TLS (``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``) and
ssh go through the SDK.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any, BinaryIO, cast
from urllib.parse import urlencode, urlsplit

from layershare.errors import EngineAPIError, EnginePermissionDenied, EngineUnreachable, SourceError

DEFAULT_SOCKET = "/var/run/docker.sock"


class NotFound(LookupError):
    """The engine answered 404 (an image or container that is gone)."""


class _Closed(ConnectionError):
    """The engine closed a kept-alive connection before answering (it is opened again once)."""


class _Connection:
    """One persistent HTTP/1.1 connection that sends GETs and reads what frames an answer: the status,
    ``Content-Length`` or chunked transfer, ``Connection: close``; other headers are skipped.

    The engine's answers are small JSON documents asked thousands of times on a cold run, and
    ``http.client`` parses every header through the ``email`` package: three times the CPU per
    request (measured: 0.55 s against 0.18 s for 2,000 requests), CPU the engine itself needs
    when it shares the machine's cores.
    """

    def __init__(self, endpoint: str | tuple[str, int], timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.reader: BinaryIO | None = None

    def _open(self) -> tuple[socket.socket, BinaryIO]:
        if isinstance(self.endpoint, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(self.endpoint)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection(self.endpoint, timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = cast(BinaryIO, sock.makefile("rb", buffering=1 << 16))
        self.sock, self.reader = sock, reader
        return sock, reader

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self.reader = None

    def get(self, target: str) -> tuple[int, bytes]:
        """(status, body) of ``GET target``."""
        sock, reader = (self.sock, self.reader) if self.sock and self.reader else self._open()
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: docker\r\n\r\n".encode())
        status_line = reader.readline(1 << 16)
        if not status_line:
            raise _Closed
        version, _, rest = status_line.partition(b" ")
        if not version.startswith(b"HTTP/") or not rest[:3].isdigit():
            raise ValueError(f"not an HTTP answer: {status_line[:40]!r}")
        length: int | None = None
        chunked, close = False, version == b"HTTP/1.0"
        while True:
            line = reader.readline(1 << 16)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise _Closed
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            body = self._chunked(reader)
        elif length is not None:
            body = self._exactly(reader, length)
        else:
            body, close = reader.read(), True
        if close:
            self.close()
        return int(rest[:3]), body

    @staticmethod
    def _exactly(reader: BinaryIO, size: int) -> bytes:
        data = reader.read(size)
        if len(data) != size:
            raise _Closed
        return data

    def _chunked(self, reader: BinaryIO) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(reader.readline(1 << 16).split(b";", 1)[0], 16)
            if size == 0:
                while reader.readline(1 << 16) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self._exactly(reader, size))
            reader.readline(1 << 16)


def plain_endpoint(host: str | None) -> str | tuple[str, int] | None:
    """Where ``host`` (or ``DOCKER_HOST`` when None) is reached without TLS: a unix socket's path, or
    (address, port) of plain ``tcp://``; None for TLS, ssh and anything else (the SDK's)."""
    url = host if host is not None else os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    if url.startswith("unix://"):
        return url.removeprefix("unix://")
    if (
        not url.startswith("tcp://")
        or os.environ.get("DOCKER_TLS_VERIFY")
        or os.environ.get("DOCKER_CERT_PATH")
    ):
        return None
    parsed = urlsplit(url)
    if parsed.hostname is None or parsed.path not in ("", "/"):
        return None
    return parsed.hostname, parsed.port or 2375


class PlainAPI:
    """JSON answers of ``GET`` requests to the engine at a unix socket or plain TCP endpoint
    (:func:`plain_endpoint`; ``where`` names it in messages)."""

    def __init__(self, endpoint: str | tuple[str, int], where: str, timeout: float = 300.0) -> None:
        self.endpoint = endpoint
        self.where = where
        self.timeout = timeout
        self._local = threading.local()
        self._version: str | None = None

    def _connection(self) -> _Connection:
        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = _Connection(self.endpoint, self.timeout)
        return connection

    def _error(self, e: OSError) -> SourceError:
        if isinstance(e, PermissionError):
            return EnginePermissionDenied(
                f"permission denied opening the Docker socket at {self.where}: run as a member of the "
                "'docker' group, or as root, or point DOCKER_HOST at an engine you may use"
            )
        return EngineUnreachable(
            f"cannot reach a Docker engine at {self.where}: is dockerd running? "
            "Set DOCKER_HOST or --host to the engine's address"
        )

    def _request(self, path: str) -> Any:
        for attempt in (0, 1):  # a kept-alive connection the engine closed is opened once more
            connection = self._connection()
            try:
                status, body = connection.get(path)
            except (_Closed, BrokenPipeError, ConnectionResetError) as e:
                connection.close()
                if attempt:
                    raise self._error(e) from e
                continue
            except ValueError as e:
                connection.close()
                raise EngineAPIError(f"the engine at {self.where} answered {path} with no HTTP ({e})") from e
            except OSError as e:
                connection.close()
                raise self._error(e) from e
            if status == 404:
                raise NotFound(path)
            if status >= 400:
                try:
                    message = json.loads(body).get("message") or body.decode(errors="replace")
                except ValueError:
                    message = body.decode(errors="replace")
                raise EngineAPIError(f"the engine at {self.where} answered an error: {message.strip()}")
            try:
                return json.loads(body)
            except ValueError as e:
                raise EngineAPIError(f"the engine at {self.where} answered {path} with no JSON") from e
        raise AssertionError("unreachable")

    @property
    def version(self) -> str:
        """The API version the engine speaks (``GET /version``, asked once)."""
        if self._version is None:
            self._version = str(self._request("/version")["ApiVersion"])
        return self._version

    def get(self, path: str, **params: object) -> Any:
        """``GET /v<version><path>?<params>`` as JSON; :class:`NotFound` for a 404."""
        query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        query = f"?{query}" if query else ""
        return self._request(f"/v{self.version}{path}{query}")

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
