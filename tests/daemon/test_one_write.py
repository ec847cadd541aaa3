"""An answer leaves in one write: status line, headers and body in one TCP segment.

Written in two (uvicorn's way), a client without TCP_NODELAY on a kept connection waited
for a delayed ACK between them: the 40 ms of every call in issue 12. The protocol is run
here on a real event loop with a transport that records each write, serving the real
app: through the fast lane (``GET /v1/state``, a move) and the full app (``/healthz``,
a refusal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.api.one_write import OneWriteHttpToolsProtocol
from daemon.control.runtime import Runtime
from daemon.service import Daemon
from daemon.store import Store

TOKEN = "one-write-token-0123456789"


class Recording(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8765)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    runtime, store = Runtime(FakeBackend((1366, 768)), step_interval=0.0), Store(tmp_path / "d.db")
    try:
        yield create_app(Daemon(runtime, store), TOKEN)
    finally:
        runtime.close()
        store.close()


def _served(app: Any, request: bytes) -> list[bytes]:
    async def run() -> list[bytes]:
        async with app.router.lifespan_context(app):
            config = uvicorn.Config(app, http=OneWriteHttpToolsProtocol, lifespan="off", log_level="warning")
            proto = OneWriteHttpToolsProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
            transport = Recording()
            proto.connection_made(transport)
            proto.data_received(request)
            for _ in range(2000):  # until the answer is out (a poll of the loop, not a sleep)
                if transport.writes and b"\r\n\r\n" in transport.writes[0]:
                    head, _, body = b"".join(transport.writes).partition(b"\r\n\r\n")
                    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length"))  # fmt: skip
                    if len(body) >= length:
                        break
                await asyncio.sleep(0.005)
            proto.connection_lost(None)
            return transport.writes

    return asyncio.run(run())


def _get(path: str, token: str = TOKEN) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nAuthorization: Bearer {token}\r\n\r\n".encode()


def _post(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:8765\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip


@pytest.mark.parametrize(("name", "request_bytes", "status"), [
    ("state, in the fast lane", _get("/v1/state"), b"200"),
    ("a move, in the fast lane", _post("/v1/actions", b'{"action": "move", "x": 1, "y": 2}'), b"200"),
    ("healthz, through the full app", _get("/healthz"), b"200"),
    ("a refusal, through the full app", _get("/v1/state", token="wrong-token-0123456789"), b"401"),
], ids=lambda v: v if isinstance(v, str) else "")  # fmt: skip
def test_an_answer_leaves_in_one_write(app: Any, name: str, request_bytes: bytes, status: bytes) -> None:
    writes = _served(app, request_bytes)
    assert len(writes) == 1, [w[:60] for w in writes]
    assert writes[0].split(b" ", 2)[1] == status and b"\r\n\r\n" in writes[0]
