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
one is opened: a request is never written twice.
"""

from __future__ import annotations

import asyncio
import select
import socket
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


class HTTP11Transport(httpx.BaseTransport):
    """Synchronous; one connection at a time (a :class:`daemon.client.Client` is one agent)."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._where: tuple[str, int] | None = None
        self._buf = b""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        connect_timeout, read_timeout = _timeouts(request)
        sock = self._connection(request, connect_timeout)
        try:
            sock.settimeout(read_timeout)
            sock.sendall(_head_of(request, body) + body)
            head = _Head(self._until(b"\r\n\r\n", request))
            content = self._body(head, request)
        except TimeoutError as exc:
            self.close()
            raise httpx.ReadTimeout(f"no answer within {read_timeout} s", request=request) from exc
        except OSError as exc:
            self.close()
            raise httpx.ReadError(str(exc), request=request) from exc
        except httpx.HTTPError:
            self.close()
            raise
        if head.close:
            self.close()
        return httpx.Response(head.status, headers=head.headers, content=content, request=request)

    def _connection(self, request: httpx.Request, timeout: float | None) -> socket.socket:
        where = (request.url.host, request.url.port or 80)
        if self._sock is not None and (where != self._where or self._stale(self._sock)):
            self.close()
        if self._sock is None:
            try:
                sock = socket.create_connection(where, timeout=timeout)
            except TimeoutError as exc:
                raise httpx.ConnectTimeout(f"connecting to {where}: timed out", request=request) from exc
            except OSError as exc:
                raise httpx.ConnectError(f"connecting to {where}: {exc}", request=request) from exc
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock, self._where, self._buf = sock, where, b""
        return self._sock

    def _stale(self, sock: socket.socket) -> bool:
        """Readable while idle: the daemon closed it (or sent what nobody asked for)."""
        return bool(self._buf) or bool(select.select([sock], [], [], 0)[0])

    def _recv(self, request: httpx.Request) -> bytes:
        assert self._sock is not None
        data = self._sock.recv(1 << 18)
        if not data:
            raise httpx.RemoteProtocolError("the daemon closed the connection", request=request)
        return data

    def _until(self, mark: bytes, request: httpx.Request) -> bytes:
        while (at := self._buf.find(mark)) < 0:
            if len(self._buf) > _HEAD_LIMIT:
                raise httpx.RemoteProtocolError("response headers too long", request=request)
            self._buf += self._recv(request)
        found, self._buf = self._buf[:at], self._buf[at + len(mark) :]
        return found

    def _exactly(self, n: int, request: httpx.Request) -> bytes:
        parts, have = [self._buf[:n]], len(self._buf[:n])
        self._buf = self._buf[n:]
        while have < n:
            data = self._recv(request)
            take = data[: n - have]
            parts.append(take)
            have += len(take)
            self._buf = data[len(take) :]
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
            rest = [self._buf]
            self._buf = b""
            assert self._sock is not None
            while data := self._sock.recv(1 << 18):
                rest.append(data)
            return b"".join(rest)
        return self._exactly(head.length, request)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock, self._buf = None, b""


class AsyncHTTP11Transport(httpx.AsyncBaseTransport):
    """The same for asyncio (the MCP proxy); one request at a time, others wait their turn."""

    def __init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._where: tuple[str, int] | None = None
        self._lock: asyncio.Lock | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await self._exchange(request)

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        connect_timeout, read_timeout = _timeouts(request)
        reader, writer = await self._connection(request, connect_timeout)
        try:
            writer.write(_head_of(request, body) + body)
            head, content = await asyncio.wait_for(self._sent(writer, reader, request), read_timeout)
        except TimeoutError as exc:
            await self.aclose()
            raise httpx.ReadTimeout(f"no answer within {read_timeout} s", request=request) from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            await self.aclose()
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        except httpx.HTTPError:
            await self.aclose()
            raise
        if head.close:
            await self.aclose()
        return httpx.Response(head.status, headers=head.headers, content=content, request=request)

    async def _connection(
        self, request: httpx.Request, timeout: float | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        where = (request.url.host, request.url.port or 80)
        reader, writer = self._reader, self._writer
        if reader is not None and writer is not None and (
            where != self._where or writer.is_closing() or reader.at_eof()
        ):
            await self.aclose()
            reader = writer = None
        if reader is None or writer is None:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*where, limit=_HEAD_LIMIT * 4), timeout
                )
            except TimeoutError as exc:
                raise httpx.ConnectTimeout(f"connecting to {where}: timed out", request=request) from exc
            except OSError as exc:
                raise httpx.ConnectError(f"connecting to {where}: {exc}", request=request) from exc
            self._reader, self._writer, self._where = reader, writer, where
        assert reader is not None and writer is not None
        return reader, writer

    async def _sent(
        self, writer: asyncio.StreamWriter, reader: asyncio.StreamReader, request: httpx.Request
    ) -> tuple[_Head, bytes]:
        await writer.drain()
        raw = await reader.readuntil(b"\r\n\r\n")
        head = _Head(raw[:-4])
        if head.chunked:
            chunks = []
            while size := int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")
            return head, b"".join(chunks)
        if head.length is None:
            head.close = True
            return head, await reader.read()
        return head, await reader.readexactly(head.length)

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
