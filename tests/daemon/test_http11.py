"""daemon/http11.py, the clients' own HTTP/1.1 transport, against real sockets.

A tiny server in a thread answers with canned bytes (chunked, closing after each answer
without saying so) and counts the requests it read: a request is never written twice,
a closed kept connection is replaced, and a daemon that is not there is NotRunning.
The daemon's real server is exercised through the clients everywhere else.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from daemon.client import AsyncClient, Client, NotRunning
from daemon.http11 import AsyncHTTP11Transport, HTTP11Transport
from tests.daemon.live import poll

STATE = b'{"control": "agent", "screen": [1366, 768]}'


class Canned:
    """Answers every request with ``reply``; closes after each if ``close_after``."""

    def __init__(self, reply: bytes, *, close_after: bool = False) -> None:
        self.reply, self.close_after = reply, close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            self._answer(conn)
        finally:
            conn.close()
            self.closed += 1

    def _answer(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buf) < length:
                buf += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + buf[:length])
            buf = buf[length:]
            conn.sendall(self.reply)
            if self.close_after:
                return

    def close(self) -> None:
        self.sock.close()


def plain(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body), body,
    )  # fmt: skip


def chunked(body: bytes) -> bytes:
    half = len(body) // 2
    parts = [body[:half], body[half:]]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


@pytest.fixture
def closing() -> Iterator[Canned]:
    server = Canned(plain(STATE), close_after=True)
    yield server
    server.close()


def test_the_client_uses_it_for_plain_http() -> None:
    with Client("http://127.0.0.1:9", "t") as c:
        assert isinstance(c._http._transport, HTTP11Transport)
    assert isinstance(AsyncClient("http://127.0.0.1:9", "t")._http._transport, AsyncHTTP11Transport)


def test_one_connection_serves_every_call() -> None:
    server = Canned(plain(STATE))
    try:
        with Client(server.url, "tok") as c:
            for _ in range(5):
                assert c.state()["control"] == "agent"
        assert server.connections == 1 and len(server.requests) == 5
        assert all(b"authorization: bearer tok" in r.lower() for r in server.requests)
    finally:
        server.close()


def test_a_closed_kept_connection_is_replaced_and_nothing_is_sent_twice(closing: Canned) -> None:
    with Client(closing.url, "tok") as c:
        for n in range(4):
            # the daemon's close has happened (not merely is on its way) before the next call
            assert poll(lambda n=n: closing.closed == n)  # type: ignore[misc]
            assert c.state()["screen"] == [1366, 768]
    assert len(closing.requests) == 4 and closing.connections == 4


def test_chunked_answers_are_read_whole() -> None:
    server = Canned(chunked(STATE))
    try:
        with Client(server.url, "tok") as c:
            assert c.state()["control"] == "agent" and c.state()["control"] == "agent"
        assert server.connections == 1
    finally:
        server.close()


def test_nothing_listening_is_not_running() -> None:
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with Client(f"http://127.0.0.1:{port}", "tok") as c, pytest.raises(NotRunning):
        c.state()


def test_the_async_transport_does_the_same() -> None:
    async def run() -> None:
        keep, close, chunks = Canned(plain(STATE)), Canned(plain(STATE), close_after=True), Canned(chunked(STATE))
        try:
            for server in (keep, close, chunks):
                async with AsyncClient(server.url, "tok") as c:
                    for n in range(3):
                        if server is close:  # closed, as above, before the next call
                            assert await asyncio.to_thread(poll, lambda n=n: close.closed == n)
                        assert (await c.state())["control"] == "agent"
            assert keep.connections == 1 and len(keep.requests) == 3
            assert close.connections == 3 and len(close.requests) == 3
            assert chunks.connections == 1
            free = socket.create_server(("127.0.0.1", 0))
            port = free.getsockname()[1]
            free.close()
            async with AsyncClient(f"http://127.0.0.1:{port}", "tok") as c:
                with pytest.raises(NotRunning):
                    await c.state()
        finally:
            for server in (keep, close, chunks):
                server.close()

    asyncio.run(run())


def test_plain_http_requests_skip_httpxs_client_and_say_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clients hand their requests to the transport themselves (httpx's build and send
    cost more than the daemon's answer); what they write is a whole, correct request."""
    import httpx

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("went through httpx's client")

    for name in ("send", "build_request"):
        monkeypatch.setattr(httpx.Client, name, refused)
        monkeypatch.setattr(httpx.AsyncClient, name, refused)
    outcome = b'{"id": "a1", "action": "move", "status": "executed"}'
    server = Canned(plain(outcome))
    try:
        with Client(server.url, "tok") as c:
            assert c.act({"action": "move", "x": 1, "y": 2, "reason": "caf\u00e9"}).status == "executed"

        async def run() -> str:
            async with AsyncClient(server.url, "tok") as c:
                return (await c.act({"action": "move", "x": 3, "y": 4})).status

        assert asyncio.run(run()) == "executed"
    finally:
        server.close()
    port = server.url.rsplit(":", 1)[1]
    for request, body in zip(server.requests, (
        '{"action":"move","x":1,"y":2,"reason":"caf\u00e9"}'.encode(), b'{"action":"move","x":3,"y":4}',
    ), strict=True):  # fmt: skip
        head, _, sent = request.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        assert lines[0] == b"POST /v1/actions HTTP/1.1"
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        assert fields[b"host"] == f"127.0.0.1:{port}".encode()
        assert fields[b"authorization"] == b"Bearer tok"
        assert fields[b"content-type"] == b"application/json"
        assert fields[b"content-length"] == str(len(body)).encode() and sent == body
