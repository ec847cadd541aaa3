"""uvicorn's HTTP protocol (httptools), with each response leaving in one write.

uvicorn writes a response's status line and headers, then its body: two ``send`` system
calls and two TCP segments, so a client wakes twice and reads twice for every answer
(and, without TCP_NODELAY, the second segment waited for a delayed ACK: the 40 ms of
issue 12). Here what the app writes during one turn of the event loop is gathered and
written once, at the end of that turn: an ASGI app sends ``http.response.start`` and
``http.response.body`` without yielding in between, so headers and body go out
together. Nothing waits longer than the current turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["FLUSH", "OneWriteHttpToolsProtocol"]

FLUSH = "driverseat.flush"
"""A request's scope key: writes what was gathered now. An app that knows its answer is
complete (the fast lane) calls it instead of waiting for the end of the loop's turn."""

_NOW = 1 << 16  # past this many bytes gathered, write at once (large bodies stream)


class _Gathering:
    """A transport that gathers writes until the end of the loop's turn; everything else
    is the real transport's (anything that ends or inspects the stream flushes first)."""

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._parts: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._parts.append(bytes(data))
        self._size += len(data)
        if self._size >= _NOW:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if not self._parts:
            return
        data = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._parts.clear()
        self._size = 0
        self._transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._size + int(self._transport.get_write_buffer_size())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods
        super().connection_made(_Gathering(transport, self.loop))  # type: ignore[arg-type]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[FLUSH] = self.transport.flush  # type: ignore[attr-defined,literal-required]
