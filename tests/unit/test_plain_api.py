"""The lean GET client against a server that frames answers every way HTTP/1.1 allows: a length,
chunks (with an extension and a trailer), ``Connection: close``, and a kept-alive connection the
server drops while idle. (Against real engines it runs in every engine test.)"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from layershare.errors import EngineAPIError, EngineUnreachable
from layershare.sources.engine.plain_api import NotFound, PlainAPI, plain_endpoint
from layershare.sources.engine.ssh import SshEndpoint


def _answer(path: str) -> bytes:
    if path == "/version":
        body = json.dumps({"ApiVersion": "1.41"}).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
            len(body),
            body,
        )
    if path.endswith("/chunked"):
        body = json.dumps({"chunked": True, "pad": "x" * 5000}).encode()
        parts = [body[:10], body[10:4000], body[4000:]]
        chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts)
        return (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\nX-Trailer: 1\r\n\r\n"
        )
    if path.endswith("/close"):
        return b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"closed": true}'
    if path.endswith("/missing"):
        return b'HTTP/1.1 404 Not Found\r\nContent-Length: 23\r\n\r\n{"message": "no such"}\n'
    if path.endswith("/broken"):
        return b'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 19\r\n\r\n{"message": "boom"}'
    if path.endswith("/garbage"):
        return b"SSH-2.0-OpenSSH\r\n\r\n"
    body = json.dumps({"path": path}).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class Server:
    """A unix-socket HTTP/1.1 server; ``drop_after`` answers per connection before it closes it unasked."""

    def __init__(self, path: Path, drop_after: int = 1000) -> None:
        self.path = str(path)
        self.drop_after = drop_after
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn, reader:
            for _ in range(self.drop_after):
                request = reader.readline()
                if not request:
                    return
                while reader.readline() not in (b"\r\n", b""):
                    pass
                answer = _answer(request.split()[1].decode())
                conn.sendall(answer)
                if b"Connection: close" in answer:
                    return


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "engine.sock")
    yield running
    running.listener.close()


def test_lengths_chunks_and_close_are_read_and_the_connection_kept(server: Server) -> None:
    api = PlainAPI(server.path, "test engine")
    assert api.get("/images/a/json") == {"path": "/v1.41/images/a/json"}
    assert api.get("/x/chunked") == {"chunked": True, "pad": "x" * 5000}
    assert api.get("/images/b/json", all=1) == {"path": "/v1.41/images/b/json?all=1"}
    assert server.connections == 1  # one kept-alive connection for all of it
    assert api.get("/x/close") == {"closed": True}
    assert api.get("/images/c/json") == {"path": "/v1.41/images/c/json"}
    assert server.connections == 2  # reopened after the server said close


def test_a_connection_dropped_while_idle_is_opened_again(tmp_path: Path) -> None:
    server = Server(tmp_path / "engine.sock", drop_after=2)
    api = PlainAPI(server.path, "test engine")
    answers = [api.get(f"/images/{n}/json") for n in range(5)]
    assert answers == [{"path": f"/v1.41/images/{n}/json"} for n in range(5)]
    assert server.connections >= 3


def test_errors_are_typed(server: Server, tmp_path: Path) -> None:
    api = PlainAPI(server.path, "test engine")
    with pytest.raises(NotFound):
        api.get("/x/missing")
    with pytest.raises(EngineAPIError, match="boom"):
        api.get("/x/broken")
    with pytest.raises(EngineAPIError, match="no HTTP"):
        api.get("/x/garbage")
    with pytest.raises(EngineUnreachable):
        PlainAPI(str(tmp_path / "nothing.sock"), "nowhere").get("/info")


def test_which_hosts_go_without_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    assert plain_endpoint("unix:///run/x.sock") == "/run/x.sock"
    assert plain_endpoint("tcp://127.0.0.1:2375") == ("127.0.0.1", 2375)
    assert plain_endpoint("tcp://engine.example") == ("engine.example", 2375)
    # ssh as the docker CLI runs it: -l and -p only where the URL names them (~/.ssh/config otherwise)
    assert plain_endpoint("ssh://user@host") == SshEndpoint("host", "user", None)
    assert plain_endpoint("ssh://alias").command() == ["ssh", "--", "alias", "docker", "system", "dial-stdio"]  # type: ignore[union-attr]
    assert plain_endpoint("ssh://me@10.0.0.1:2222").command()[:5] == ["ssh", "-l", "me", "-p", "2222"]  # type: ignore[union-attr]
    assert plain_endpoint("ssh://host/path") is None
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    assert plain_endpoint("tcp://127.0.0.1:2376") is None  # TLS: the SDK's
    assert plain_endpoint("unix:///run/x.sock") == "/run/x.sock"
