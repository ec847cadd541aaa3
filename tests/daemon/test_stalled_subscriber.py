"""A WebSocket subscriber that stops reading is dropped without slowing anyone: the hub
cuts it loose once its queue is full, and its connection is reset while it is still
stalled (a close frame could never reach it: it would wait behind the unread events).

The stalled client is a raw socket with a small receive buffer that does the handshake
and then never reads again. A TCP send buffer can hide a stall for a long time, so the
test pushes events until the daemon has dropped the subscriber, however many it takes.
"""

from __future__ import annotations

import base64
import errno
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.control.runtime import Runtime
from daemon.events import QUEUE_SIZE
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import poll, serving

TOKEN = "stalled-token-0123456789"
MOST = 20_000  # events pushed at most before the test gives up


class Live:
    def __init__(self, url: str, fake: FakeBackend, daemon: Daemon) -> None:
        self.url, self.fake, self.daemon = url, fake, daemon


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    fake = FakeBackend((1366, 768))
    runtime = Runtime(fake, step_interval=0.0)
    store = Store(tmp_path / "d.db")
    daemon = Daemon(runtime, store)
    try:
        with serving(create_app(daemon, TOKEN)) as url:
            yield Live(url, fake, daemon)
    finally:
        runtime.close()
        store.close()


def _stalled_subscriber(url: str) -> socket.socket:
    """Handshake by hand, read the 101 and nothing after it, ever."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /v1/events?token={TOKEN} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    sock.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # one byte at a time: not one byte of the events past the 101
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _reset(sock: socket.socket) -> bool:
    """True once the daemon has reset the connection (seen without reading a byte)."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in (errno.ECONNRESET, errno.EPIPE)


def test_a_subscriber_that_stops_reading_is_dropped_and_nobody_waits(live: Live) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    stalled = _stalled_subscriber(live.url)
    assert poll(lambda: live.daemon.hub.subscribers == 1)
    latencies: list[float] = []
    with httpx.Client(base_url=live.url, headers=headers, timeout=10) as agent:
        pushed = 0
        while live.daemon.hub.subscribers == 1 and pushed < MOST:
            t0 = time.perf_counter()
            r = agent.post("/v1/actions", json={"action": "move", "x": pushed % 500, "y": 7})
            latencies.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["status"] == "executed", r.text
            pushed += 1
        assert live.daemon.hub.subscribers == 0, f"still subscribed after {pushed} events"
        assert pushed > QUEUE_SIZE
        # dropped while it still reads nothing: the connection is reset, not left open
        # behind a close frame that can never be delivered
        assert poll(lambda: _reset(stalled), timeout=10), "the stalled connection was left open"
        # and the agent goes on as before
        for n in range(50):
            r = agent.post("/v1/actions", json={"action": "move", "x": n, "y": 9})
            assert r.status_code == 200 and r.json()["status"] == "executed"
    stalled.close()
    latencies.sort()
    print(f"pushed {pushed} events; p50 {latencies[len(latencies) // 2] * 1000:.2f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms, max {latencies[-1] * 1000:.2f} ms")  # fmt: skip
