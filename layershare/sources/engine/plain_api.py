"""A GET-only JSON client for an engine on a unix socket or plain TCP, without the Docker SDK.

Importing the SDK (and ``requests``) costs about 0.15 s, and each request through it
about a millisecond; this client is the standard library's ``http.client`` over the
socket, one persistent connection per thread, the API version negotiated once from
``GET /version`` as the SDK does. TLS (``DOCKER_TLS_VERIFY``, ``DOCKER_CERT_PATH``) and
ssh go through the SDK.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit

from layershare.errors import EngineAPIError, EnginePermissionDenied, EngineUnreachable, SourceError

DEFAULT_SOCKET = "/var/run/docker.sock"


class NotFound(LookupError):
    """The engine answered 404 (an image or container that is gone)."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


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

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            if isinstance(self.endpoint, str):
                connection = _UnixConnection(self.endpoint, self.timeout)
            else:
                connection = http.client.HTTPConnection(*self.endpoint, timeout=self.timeout)
            self._local.connection = connection
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
                connection.request("GET", path, headers={"Host": "docker"})
                response = connection.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                connection.close()
                if attempt:
                    raise self._error(e) from e
                continue
            except OSError as e:
                connection.close()
                raise self._error(e) from e
            if response.status == 404:
                raise NotFound(path)
            if response.status >= 400:
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
