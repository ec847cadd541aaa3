"""uvicorn's HTTP protocol (httptools), with each response leaving in one write.

uvicorn writes a response's status line and headers, then its body: two ``send`` system
calls and two TCP segments, so a client wakes twice and reads twice for every answer
(and, without TCP_NODELAY, the second segment waited for a delayed ACK: the 40 ms of
issue 12). Here what the app writes during one turn of the event loop is gathered and
written once, at the end of that turn: an ASGI app sends ``http.response.start`` and
``http.response.body`` without yielding in between, so headers and body go out
together. Nothing waits longer than the current turn.

A request it cannot parse, uvicorn answers at once with a plain-text 400 and closes the
connection. Pipelined behind a request still running (a drag), that lost the running
request its answer and made it see its client gone: the drag stopped half-way, and the
client read the 400 as the drag's answer. Here the requests before the bad one are
answered first (one queued behind them that the bad data broke never runs), nothing more
is read, and the 400 (driverseat's JSON, with the parser's reason) comes last.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

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
    _refusal: bytes | None = None  # the 400 owed once the requests before it are answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods
        super().connection_made(_Gathering(transport, self.loop))  # type: ignore[arg-type]
        self._cycles: list[RequestResponseCycle] = []  # requests read, not yet answered

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # past a request that could not be read, nothing more is
        self._unset_keepalive_if_required()
        try:  # as uvicorn's, but for the answer to a request it cannot parse
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:  # its reason names no byte of the request
            self.logger.warning("Invalid HTTP request received: %s", exc)
            self._refuse(f"the request is not valid HTTP/1.1 ({exc})")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.cycle is not None and not any(c is self.cycle for c in self._cycles):
            self._cycles.append(self.cycle)

    def _refuse(self, why: str) -> None:
        """Answer 400 now, or once every complete request before the bad one is answered."""
        body = json.dumps({"error": why}).encode()
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        for name, value in self.server_state.default_headers:
            head += (name, b": ", value, b"\r\n")
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        answer = b"".join(head) + body
        broken = self.cycle if self.cycle is not None and self.cycle.more_body else None
        if broken is not None and any(c is broken for c, _ in self.pipeline):
            # its body broke off while it waited its turn: it never runs
            self.pipeline = deque((c, app) for c, app in self.pipeline if c is not broken)
            self._cycles.remove(broken)
        if not any(not c.response_complete for c in self._cycles if c is not broken):
            self._unset_keepalive_if_required()
            self.transport.write(answer)
            self.transport.close()
            return
        self._refusal = answer
        self.flow.pause_reading()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._cycles = [c for c in self._cycles if not c.response_complete]
        if self._refusal is not None and not self._cycles and not self.transport.is_closing():
            self._unset_keepalive_if_required()  # armed by uvicorn for a next request
            self.transport.write(self._refusal)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[FLUSH] = self.transport.flush  # type: ignore[attr-defined,literal-required]
