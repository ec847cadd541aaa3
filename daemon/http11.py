"""A lean HTTP/1.1 transport for the daemon's own clients, on one kept connection.

httpx's default transport (httpcore over h11, anyio for the async one) costs the Python
client 0.2-0.4 ms a call on loopback, as much as the daemon's whole HTTP handling of a
``move``. These transports do what the daemon's API needs and no more: one plain-HTTP
connection per client, kept alive, a request written in one ``send``, a response read
by its ``content-length`` (or chunks). httpx stays the client (URLs, headers, JSON,
timeouts, errors): a failure is raised as the httpx error it stands for, so
:mod:`daemon.client` tells a daemon that is not running from one that failed the same way.

A kept connection the daemon has closed meanwhile (uvicorn drops idle ones after 5 s)
is noticed before a request is written on it (readable with nothing to read), and a new
one is opened: a request is never written twice. A request made while another is in
flight (a long-poll for a review, and the decision) gets a connection of its own.
"""

from __future__ import annotations

import asyncio
import select
import socket
import threading
from typing import Any

import httpx

__all__ = ["AsyncHTTP11Transport", "HTTP11Transport"]

_HEAD_LIMIT = 1 << 16


def _timeouts(request: httpx.Request) -> tuple[float | None, float | None]:
    t: dict[str, Any] = request.extensions.get("timeout") or {}
    return t.get("connect"), t.get("read")


def _head_of(request: httpx.Request, body: bytes) -> bytes:
    target = request.url.raw_path.decode("ascii")
    lines = [f"{request.method} {target} HTTP/1.1".encode("ascii")]
    lines += [name + b": " + value for name, value in request.headers.raw]
    if body and "content-length" not in request.headers:
        lines.append(b"content-length: " + str(len(body)).encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


class _Head:
    """A response's status line and headers, parsed."""

    def __init__(self, raw: bytes) -> None:
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(f"not an HTTP/1.1 response: {lines[0][:80]!r}")
        self.status = int(parts[1])
        self.headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        self.chunked = False
        self.close = parts[0] == b"HTTP/1.0"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise httpx.RemoteProtocolError(f"a malformed header line: {line[:80]!r}")
            name, value = name.strip().lower(), value.strip()
            self.headers.append((name, value))
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                self.chunked = True
            elif name == b"connection":
                self.close = b"close" in value.lower()
        self.length = length


class _Connection:
    """One kept socket and what has been read past the last response."""

    def __init__(self, sock: socket.socket, where: tuple[str, int]) -> None:
        self.sock, self.where, self.buf = sock, where, b""

    def stale(self) -> bool:
        """Readable while idle: the daemon closed it (or sent what nobody asked for)."""
        return bool(self.buf) or bool(select.select([self.sock], [], [], 0)[0])

    def exchange(self, request: httpx.Request, data: bytes) -> tuple[_Head, bytes]:
        self.sock.sendall(data)
        head = _Head(self._until(b"\r\n\r\n", request))
        return head, self._body(head, request)

    def _recv(self, request: httpx.Request) -> bytes:
        data = self.sock.recv(1 << 18)
        if not data:
            raise httpx.RemoteProtocolError("the daemon closed the connection", request=request)
        return data

    def _until(self, mark: bytes, request: httpx.Request) -> bytes:
        while (at := self.buf.find(mark)) < 0:
            if len(self.buf) > _HEAD_LIMIT:
                raise httpx.RemoteProtocolError("response headers too long", request=request)
            self.buf += self._recv(request)
        found, self.buf = self.buf[:at], self.buf[at + len(mark) :]
        return found

    def _exactly(self, n: int, request: httpx.Request) -> bytes:
        parts, have = [self.buf[:n]], len(self.buf[:n])
        self.buf = self.buf[n:]
        while have < n:
            data = self._recv(request)
            take = data[: n - have]
            parts.append(take)
            have += len(take)
            self.buf = data[len(take) :]
        return b"".join(parts)

    def _body(self, head: _Head, request: httpx.Request) -> bytes:
        if head.chunked:
            chunks = []
            while size := int(self._until(b"\r\n", request).split(b";")[0], 16):
                chunks.append(self._exactly(size, request))
                self._exactly(2, request)
            self._until(b"\r\n", request)  # no trailers are sent to us
            return b"".join(chunks)
        if head.length is None:  # read to the end (and the connection ends with it)
            head.close = True
            rest = [self.buf]
            self.buf = b""
            while data := self.sock.recv(1 << 18):
                rest.append(data)
            return b"".join(rest)
        return self._exactly(head.length, request)


class HTTP11Transport(httpx.BaseTransport):
    """Synchronous. Usually one connection; a request made while another is in flight
    (a long-poll on another thread) gets one of its own, kept for later too."""

    def __init__(self) -> None:
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        connect_timeout, read_timeout = _timeouts(request)
        conn = self._connection(request, connect_timeout)
        try:
            conn.sock.settimeout(read_timeout)
            head, content = conn.exchange(request, _head_of(request, body) + body)
        except TimeoutError as exc:
            conn.sock.close()
            raise httpx.ReadTimeout(f"no answer within {read_timeout} s", request=request) from exc
        except OSError as exc:
            conn.sock.close()
            raise httpx.ReadError(str(exc), request=request) from exc
        except BaseException:
            conn.sock.close()
            raise
        if head.close:
            conn.sock.close()
        else:
            with self._lock:
                self._idle.append(conn)
        return httpx.Response(head.status, headers=head.headers, content=content, request=request)

    def _connection(self, request: httpx.Request, timeout: float | None) -> _Connection:
        where = (request.url.host, request.url.port or 80)
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                break
            if conn.where == where and not conn.stale():
                return conn
            conn.sock.close()
        try:
            sock = socket.create_connection(where, timeout=timeout)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {where}: timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(f"connecting to {where}: {exc}", request=request) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(sock, where)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.sock.close()


class _AsyncConnection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: tuple[str, int]
    ) -> None:
        self.reader, self.writer, self.where = reader, writer, where

    def stale(self) -> bool:
        return self.writer.is_closing() or self.reader.at_eof()

    async def exchange(self, data: bytes) -> tuple[_Head, bytes]:
        self.writer.write(data)
        await self.writer.drain()
        raw = await self.reader.readuntil(b"\r\n\r\n")
        head = _Head(raw[:-4])
        if head.chunked:
            chunks = []
            while size := int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")
            return head, b"".join(chunks)
        if head.length is None:
            head.close = True
            return head, await self.reader.read()
        return head, await self.reader.readexactly(head.length)


class AsyncHTTP11Transport(httpx.AsyncBaseTransport):
    """The same for asyncio (the MCP proxy): a connection per request in flight, kept."""

    def __init__(self) -> None:
        self._idle: list[_AsyncConnection] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        connect_timeout, read_timeout = _timeouts(request)
        conn = await self._connection(request, connect_timeout)
        try:
            head, content = await asyncio.wait_for(conn.exchange(_head_of(request, body) + body), read_timeout)
        except TimeoutError as exc:
            conn.writer.close()
            raise httpx.ReadTimeout(f"no answer within {read_timeout} s", request=request) from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            conn.writer.close()
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        except BaseException:
            conn.writer.close()
            raise
        if head.close:
            conn.writer.close()
        else:
            self._idle.append(conn)
        return httpx.Response(head.status, headers=head.headers, content=content, request=request)

    async def _connection(self, request: httpx.Request, timeout: float | None) -> _AsyncConnection:
        where = (request.url.host, request.url.port or 80)
        while self._idle:
            conn = self._idle.pop()
            if conn.where == where and not conn.stale():
                return conn
            conn.writer.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(*where, limit=_HEAD_LIMIT * 4), timeout
            )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {where}: timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(f"connecting to {where}: {exc}", request=request) from exc
        return _AsyncConnection(reader, writer, where)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.writer.close()
