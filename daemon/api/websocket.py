"""uvicorn's WebSocket protocol, with a way for the app to reset a connection.

ASGI can only *close* a WebSocket: a close frame, queued behind whatever is unsent. To a
client that stopped reading, that frame never arrives, the socket stays open (TCP probes a
zero window forever) and uvicorn's graceful shutdown waits for it. The event stream needs
to drop such a client at once, so each connection's scope carries ``ABORT``: a callable
that resets the TCP connection (RST), discarding what is unsent.

An upgrade request websockets cannot read (a line over its limit, too many headers, a
body) ended websockets' side without a word: uvicorn never answered, the connection stayed
open until the client gave up, and a shutdown meanwhile failed on it (an AssertionError in
uvicorn's 500, the app's own shutdown skipped, exit status 1). Such a request is answered
400 with a sentence here, and closed. The line limit is raised from websockets' 8 kB to the
64 kB the HTTP routes take without a thought: a browser sends every cookie it holds for
``127.0.0.1``, whichever port set it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets import http11
from websockets.datastructures import Headers
from websockets.http11 import Response

__all__ = ["ABORT", "MAX_LINE", "ResettableWebSocketProtocol", "abort_of"]

ABORT = "driverseat.abort"
MAX_LINE = 64 * 1024
_STATUS = {  # websockets' exceptions for a request too large, by name (its module moved across versions)
    "RequestLineTooLong": (414, "URI Too Long"),
    "HeaderLineTooLong": (431, "Request Header Fields Too Large"),
    "TooManyHeaders": (431, "Request Header Fields Too Large"),
}
# read by websockets' request parser at each line (its default, 8 kB, from the environment)
http11.MAX_LINE_LENGTH = max(http11.MAX_LINE_LENGTH, MAX_LINE)


class ResettableWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.reject = _json_reject(self.conn.reject)  # type: ignore[method-assign,assignment]

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][ABORT] = {"abort": self.reset}

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        failed = self.conn.handshake_exc
        if failed is not None and not self.handshake_initiated and not self.close_sent:
            self._refuse(failed.__cause__ or failed)

    def send_receive_event_to_app(self) -> None:
        """A text message that is not UTF-8: close with 1007 and a WARNING line (uvicorn
        closes so too, but logs an ERROR with a traceback, as if the daemon had failed)."""
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError as exc:
                self.frames = []
                self.logger.warning("WebSocket %s: a text message that is not UTF-8 (%s); closed with 1007",
                                    self.scope.get("path", "?"), exc.reason)  # fmt: skip
                self.conn.send_close(1007, "a text message must be UTF-8")
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()

    def handle_handshake_exception(self) -> None:
        """uvicorn >= 0.55 answers such a request itself (websockets' plain text, or a bare
        400): driverseat's sentence instead, the same as with earlier versions."""
        failed = self.conn.handshake_exc
        self._refuse(failed.__cause__ or failed if failed is not None else ValueError("invalid request"))

    def _refuse(self, why: BaseException) -> None:
        """Answer an upgrade request that could not be read (414, 431 or 400, a sentence in
        driverseat's JSON, not websockets' plain text), then close; marked closed, so that a
        shutdown closes it rather than answer it again."""
        self.conn.data_to_send()  # websockets' own answer, if it made one: ours instead
        self.handshake_initiated = self.handshake_complete = self.close_sent = True
        status = _STATUS.get(type(why).__name__, (400, "Bad Request"))
        body = json.dumps({"error": f"the WebSocket upgrade request could not be read: {why}"}).encode()
        head = (f"HTTP/1.1 {status[0]} {status[1]}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")  # fmt: skip
        self.transport.write(head.encode("ascii") + body)
        self.transport.close()

    def keepalive_timeout(self) -> None:
        """No pong in time: uvicorn closes, and its close frame waits behind whatever the
        client has not read (the kernel keeps that socket for minutes). Reset it instead."""
        if self.close_sent or self.transport.is_closing():
            return
        self.pong_timer = None
        self.pending_ping_payload = None
        self.close_sent = True
        self.reset()

    def reset(self) -> None:
        """RST now. A plain close (even asyncio's abort) leaves the kernel sending the
        unsent bytes, and a client that does not read keeps that socket alive; a zero
        linger makes the close discard them and reset the connection."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


def _json_reject(plain: Callable[[Any, str], Response]) -> Callable[[Any, str], Response]:
    """websockets' refusals of an upgrade it will not accept (two Origins, no key, a wrong
    version: plain text) and uvicorn's bare 403, as driverseat's JSON sentence."""

    def reject(status: Any, text: str) -> Response:
        response = plain(status, text)
        why = text.strip().removeprefix("Failed to open a WebSocket connection: ") or "refused by the route"
        body = json.dumps({"error": f"the WebSocket upgrade was refused: {why}"}).encode()
        headers = Headers([(k, v) for k, v in response.headers.raw_items() if k.lower() not in _BODY_HEADERS])
        headers["Content-Length"] = str(len(body))
        headers["Content-Type"] = "application/json"
        return Response(response.status_code, response.reason_phrase, headers, body)

    return reject


_BODY_HEADERS = frozenset({"content-length", "content-type"})


def abort_of(scope: dict[str, Any] | Any) -> Callable[[], None] | None:
    """The connection's reset, or None under a server that does not offer one."""
    found = (scope.get("extensions") or {}).get(ABORT)
    return found.get("abort") if isinstance(found, dict) else None
