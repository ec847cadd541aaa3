"""An ask given up while its question is still on its way leaves nothing on the screen.

The question exists on the daemon's side before its answer (which carries the id) reaches
the client. A Ctrl-C (sync client) or a cancel (async client, as an MCP client's
``notifications/cancelled``) in that window once left the question pending on the
person's screen with nobody waiting for it: `driverseat ask` interrupted early under load
did it in CI. Here a real HTTP server holds its answer to ``POST /v1/questions`` until the
interrupt has come, so the window is hit every time; the end-to-end test of the real
daemon is ``tests/e2e/test_ask_dialects_x11.py::test_an_interrupted_ask_withdraws_its_question``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from daemon.client import AsyncClient, Client

QID = "q-on-its-way"


class _Desk:
    """What the server saw, and the gate its answer to the question waits behind."""

    def __init__(self) -> None:
        self.created = threading.Event()
        self.release = threading.Event()
        self.withdrawn: list[str] = []


def _question(status: str) -> dict[str, Any]:
    now = time.time()
    return {"id": QID, "created": now, "expires": now + 300, "question": "Which one?", "status": status}


@pytest.fixture
def desk() -> Iterator[tuple[str, _Desk]]:
    d = _Desk()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/v1/questions":
                d.created.set()  # on the person's screen from now on
                d.release.wait(10)
                self._send(_question("pending"))
            elif self.path == f"/v1/questions/{QID}/withdraw":
                d.withdrawn.append(QID)
                self._send(_question("withdrawn"))
            else:
                self.send_error(404)

        def do_GET(self) -> None:
            self.send_error(404)  # waiting for the answer is not reached: the ask was given up

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", d
    finally:
        d.release.set()
        server.shutdown()
        server.server_close()


def test_a_ctrl_c_while_the_question_is_on_its_way_withdraws_it(desk: tuple[str, _Desk]) -> None:
    url, d = desk
    interrupted = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        interrupted.set()  # raised on the main thread, the test's, as Python's own handler does
        raise KeyboardInterrupt

    def interrupt() -> None:
        assert d.created.wait(10)
        os.kill(os.getpid(), signal.SIGINT)
        assert interrupted.wait(10)
        d.release.set()  # the answer leaves only after the interrupt, as in the race

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        threading.Thread(target=interrupt, daemon=True).start()
        with Client(url, "token") as c, pytest.raises(KeyboardInterrupt):
            c.ask({"question": "Which one?"})
    finally:
        signal.signal(signal.SIGINT, old)
    assert d.withdrawn == [QID]


def test_a_cancel_while_the_question_is_on_its_way_withdraws_it(desk: tuple[str, _Desk]) -> None:
    url, d = desk

    async def run() -> None:
        async with AsyncClient(url, "token") as c:
            asking = asyncio.ensure_future(c.ask({"question": "Which one?"}))
            assert await asyncio.to_thread(d.created.wait, 10)
            asking.cancel()  # before the answer: the request is on its way
            await asyncio.sleep(0)  # the cancel lands in the task; the answer needs I/O first
            d.release.set()
            with pytest.raises(asyncio.CancelledError):
                await asking

    asyncio.run(run())
    assert d.withdrawn == [QID]
