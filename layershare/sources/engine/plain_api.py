"""A GET-only JSON client for an engine on a unix socket, plain TCP or ssh, without the Docker SDK.

Importing the SDK (and ``requests``) costs about 0.15 s, and each request through it
about a millisecond; this client is the standard library's sockets, one persistent
connection per thread (:class:`_Connection`), the API version negotiated once from
``GET /version`` as the SDK does. Over ssh a connection is one ``docker system
dial-stdio`` process (:mod:`~layershare.sources.engine.ssh`). TLS (``DOCKER_TLS_VERIFY``,
``DOCKER_CERT_PATH``) goes through the SDK.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Generator, Iterator
from typing import Any, BinaryIO, NoReturn, cast
from urllib.parse import urlencode, urlsplit

from layershare.errors import EngineAPIError, EnginePermissionDenied, EngineUnreachable, SourceError
from layershare.sources.engine.ssh import SshEndpoint, SshStream, ssh_endpoint

Endpoint = str | tuple[str, int] | SshEndpoint  # a unix socket's path, (address, port), or ssh

DEFAULT_SOCKET = "/var/run/docker.sock"
STREAM_CHUNK = 1 << 18


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

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.sock: socket.socket | SshStream | None = None
        self.reader: BinaryIO | None = None
        self.said = ""  # ssh's own words, where the ssh process ended by itself

    def _open(self) -> tuple[socket.socket | SshStream, BinaryIO]:
        if isinstance(self.endpoint, SshEndpoint):
            stream = SshStream(self.endpoint)
            self.sock, self.reader = stream, stream.reader
            return stream, stream.reader
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
        if isinstance(self.sock, SshStream):
            self.said = self.sock.close() or self.said
            self.sock = self.reader = None
            return
        if self.reader is not None:
            self.reader.close()
        if self.sock is not None:
            self.sock.close()
        self.sock = self.reader = None

    def _head(
        self, target: str, method: str = "GET", body: bytes | None = None
    ) -> tuple[BinaryIO, int, int | None, bool, bool]:
        """Send ``METHOD target`` (``body``: JSON) and read the answer's head: (reader, status, length,
        chunked, close)."""
        sock, reader = (self.sock, self.reader) if self.sock and self.reader else self._open()
        head = f"{method} {target} HTTP/1.1\r\nHost: docker\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        sock.sendall(head.encode() + b"\r\n" + (body or b""))
        status_line = sock.readline(1 << 16) if isinstance(sock, SshStream) else reader.readline(1 << 16)
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
        return reader, int(rest[:3]), length, chunked, close

    def get(self, target: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
        """(status, body) of ``GET target`` (or another ``method`` with a JSON ``body``); a body of no
        stated length is read to the end (an exec's output, which the engine writes until it ends)."""
        reader, status, length, chunked, close = self._head(target, method, body)
        if chunked:
            body = self._chunked(reader)
        elif length is not None:
            body = self._exactly(reader, length)
        else:
            body, close = reader.read(), True
        if close:
            self.close()
        return status, body

    def stream(self, target: str) -> tuple[int, Generator[bytes, None, None]]:
        """(status, the body as it arrives) of ``GET target``: a large answer (an image's export) is
        never held whole. A body left unread closes the connection."""
        reader, status, length, chunked, close = self._head(target)

        def body() -> Generator[bytes, None, None]:
            done = False
            try:
                if chunked:
                    while size := int(reader.readline(1 << 16).split(b";", 1)[0], 16):
                        yield from self._pieces(reader, size)
                        reader.readline(1 << 16)
                    while reader.readline(1 << 16) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                elif length is not None:
                    yield from self._pieces(reader, length)
                else:
                    while piece := reader.read(STREAM_CHUNK):
                        yield piece
                done = length is not None or chunked
            finally:
                if close or not done:
                    self.close()

        return status, body()

    @staticmethod
    def _pieces(reader: BinaryIO, size: int) -> Iterator[bytes]:
        while size:
            piece = reader.read(min(size, STREAM_CHUNK))
            if not piece:
                raise _Closed
            size -= len(piece)
            yield piece

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


def plain_endpoint(host: str | None) -> Endpoint | None:
    """Where ``host`` (or ``DOCKER_HOST`` when None) is reached without TLS: a unix socket's path,
    (address, port) of plain ``tcp://``, or an ``ssh://`` endpoint; None for TLS and anything else
    (the SDK's)."""
    url = host if host is not None else os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    if url.startswith("unix://"):
        return url.removeprefix("unix://")
    if url.startswith("ssh://"):
        return ssh_endpoint(url)
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
    """JSON answers of ``GET`` requests to the engine at a unix socket, plain TCP or ssh endpoint
    (:func:`plain_endpoint`; ``where`` names it in messages).

    A socket's connection is kept per thread; over ssh, where each connection is an ssh process, the
    connections are a pool that any thread takes one from and gives back, so that a run starts as
    few ssh processes as it asks requests at once."""

    def __init__(self, endpoint: Endpoint, where: str, timeout: float = 300.0) -> None:
        self.endpoint = endpoint
        self.where = where
        self.timeout = timeout
        self._local = threading.local()
        self.over_ssh = isinstance(endpoint, SshEndpoint)  # each connection an ssh process, pooled
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._version: str | None = None

    def _connection(self) -> _Connection:
        if self.over_ssh:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
            return _Connection(self.endpoint, self.timeout)
        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = _Connection(self.endpoint, self.timeout)
        return connection

    def _release(self, connection: _Connection) -> None:
        """Give a pooled connection back (a closed one too: it opens again when next taken)."""
        if self.over_ssh:
            with self._lock:
                self._idle.append(connection)

    def _error(self, e: OSError, connection: _Connection | None = None) -> SourceError:
        if self.over_ssh:
            said = connection.said if connection is not None else ""
            return EngineUnreachable(
                f"cannot reach the Docker engine at {self.where} over ssh: {said or e or 'ssh failed'}"
            )
        if isinstance(e, PermissionError):
            return EnginePermissionDenied(
                f"permission denied opening the Docker socket at {self.where}: run as a member of the "
                "'docker' group, or as root, or point DOCKER_HOST at an engine you may use"
            )
        return EngineUnreachable(
            f"cannot reach a Docker engine at {self.where}: is dockerd running? "
            "Set DOCKER_HOST or --host to the engine's address"
        )

    def _request(self, path: str, method: str = "GET", payload: object = None, *, raw: bool = False) -> Any:
        connection = self._connection()
        try:
            return self._answer(connection, path, method, payload, raw)
        finally:
            self._release(connection)

    def _answer(
        self,
        connection: _Connection,
        path: str,
        method: str = "GET",
        payload: object = None,
        raw: bool = False,
    ) -> Any:
        sent = None if payload is None else json.dumps(payload).encode()
        for attempt in (0, 1):  # a kept-alive connection the engine closed is opened once more
            try:
                status, body = connection.get(path, method, sent)
            except (_Closed, BrokenPipeError, ConnectionResetError) as e:
                connection.close()
                if attempt or connection.said:  # ssh that failed by itself fails again
                    raise self._error(e, connection) from e
                continue
            except ValueError as e:
                connection.close()
                raise EngineAPIError(f"the engine at {self.where} answered {path} with no HTTP ({e})") from e
            except OSError as e:
                connection.close()
                raise self._error(e, connection) from e
            if status >= 400:
                self._refuse(path, status, body)
            if raw:
                return body
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

    def post(self, path: str, payload: object, *, raw: bool = False) -> Any:
        """``POST /v<version><path>`` with ``payload`` as JSON: the answer as JSON (``raw``: its bytes, read
        to the end); :class:`NotFound` for a 404. Only :mod:`~layershare.sources.engine.builders` posts:
        an exec in a buildx builder, which changes nothing of the engine's."""
        return self._request(f"/v{self.version}{path}", "POST", payload, raw=raw)

    def stream(self, path: str) -> Generator[bytes, None, None]:
        """``GET /v<version><path>``'s body as it arrives (an image's export); :class:`NotFound` for a
        404, :class:`EngineAPIError` for another error, connection errors as for :meth:`get`."""
        target = f"/v{self.version}{path}"
        connection = self._connection()
        try:
            try:
                status, body = connection.stream(target)
            except ValueError as e:
                connection.close()
                raise EngineAPIError(f"the engine at {self.where} answered {path} with no HTTP ({e})") from e
            except OSError as e:  # _Closed, a broken pipe or a reset among them
                connection.close()
                raise self._error(e, connection) from e
            if status >= 400:
                self._refuse(path, status, b"".join(body))
        except BaseException:
            self._release(connection)
            raise
        return self._released_after(connection, body)

    def _refuse(self, path: str, status: int, body: bytes) -> NoReturn:
        """The error of an answer with an error status: :class:`NotFound` for 404, else the engine's
        message."""
        if status == 404:
            raise NotFound(path)
        try:
            message = json.loads(body).get("message") or body.decode(errors="replace")
        except ValueError:
            message = body.decode(errors="replace")
        raise EngineAPIError(f"the engine at {self.where} answered an error: {message.strip()}")

    def _released_after(
        self, connection: _Connection, body: Generator[bytes, None, None]
    ) -> Generator[bytes, None, None]:
        try:
            yield from body
        finally:
            body.close()
            self._release(connection)

    def close(self) -> None:
        """Close this thread's connection (over ssh: every idle one, ending their ssh processes)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for pooled in idle:
            pooled.close()
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
