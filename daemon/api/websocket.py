"""uvicorn's WebSocket protocol, with a way for the app to reset a connection.

ASGI can only *close* a WebSocket: a close frame, queued behind whatever is unsent. To a
client that stopped reading, that frame never arrives, the socket stays open (TCP probes a
zero window forever) and uvicorn's graceful shutdown waits for it. The event stream needs
to drop such a client at once, so each connection's scope carries ``ABORT``: a callable
that resets the TCP connection (RST), discarding what is unsent.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["ABORT", "ResettableWebSocketProtocol", "abort_of"]

ABORT = "driverseat.abort"


class ResettableWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][ABORT] = {"abort": self.reset}

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


def abort_of(scope: dict[str, Any] | Any) -> Callable[[], None] | None:
    """The connection's reset, or None under a server that does not offer one."""
    found = (scope.get("extensions") or {}).get(ABORT)
    return found.get("abort") if isinstance(found, dict) else None
