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

uvicorn waits for a request without end: a connection that sends nothing, or sends its
request a byte at a time, kept its file descriptor for as long as the client liked, and a
few hundred of them exhausted the daemon's descriptors (slowloris). Here a connection's
next request must arrive whole, head and body, within :data:`REQUEST_TIMEOUT` of the
connection opening or of its first byte; otherwise it is answered 408 (after the requests
before it) and the connection closed. The clock stops while the daemon itself holds the
reading or a request before it is still running (a drag), and between requests
uvicorn's keep-alive timeout closes an idle connection as before.
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

REQUEST_TIMEOUT = 10.0
"""Seconds a request may take to arrive whole (1 MiB, the body limit, takes milliseconds
on loopback and a second at 10 Mbit/s)."""

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
    _deadline: asyncio.TimerHandle | None = None  # for the request now arriving

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods
        super().connection_made(_Gathering(transport, self.loop))  # type: ignore[arg-type]
        self._cycles: list[RequestResponseCycle] = []  # requests read, not yet answered
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(REQUEST_TIMEOUT, self._late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _late(self) -> None:
        """The request now arriving is not whole in time: 408, unless a request before it
        is still running or the daemon itself stopped reading: then the clock restarts."""
        self._deadline = None
        if self.transport.is_closing() or self._refusal is not None:
            return
        arriving = self.cycle if self.cycle is not None and self.cycle.more_body else None
        if self.flow.read_paused or any(not c.response_complete for c in self._cycles if c is not arriving):
            self._arm()  # behind a request still running: the clock starts once it is answered
            return
        self.logger.warning("A request did not arrive whole within %g s: closing its connection.", REQUEST_TIMEOUT)
        self._refuse(
            f"the request did not arrive whole within {REQUEST_TIMEOUT:g} s of its first byte "
            "(or of the connection opening); send each request at once",
            status=b"408 Request Timeout",
        )

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the WebSocket protocol has its own timeouts
        super().handle_websocket_upgrade()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

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

    def _refuse(self, why: str, status: bytes = b"400 Bad Request") -> None:
        """Answer 400 (or ``status``) now, or once every complete request before the bad
        one is answered."""
        self._disarm()
        body = json.dumps({"error": why}).encode()
        head = [b"HTTP/1.1 " + status + b"\r\n"]
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
        if self._deadline is None:  # else the connection's clock, from its opening
            self._arm()
        super().on_message_begin()
        self.scope[FLUSH] = self.transport.flush  # type: ignore[attr-defined,literal-required]
