"""The token never reaches a log line, even with uvicorn's loggers at DEBUG (issue 12).

A person debugging the daemon raises the log level; uvicorn then writes every request's
path and query string (its access lines) and every WebSocket handshake, where a browser
puts ``?token=``. A real server on the fake backend, real HTTP and a real WebSocket.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from capture.input._fake import FakeBackend
from daemon.api.app import create_app
from daemon.control.runtime import Runtime
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving

TOKEN = "log-secret-token-5f3a9c"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[tuple[str, Lines]]:
    runtime = Runtime(FakeBackend((1366, 768)), step_interval=0.0)
    store = Store(tmp_path / "d.db")
    lines = Lines()
    try:
        with serving(create_app(Daemon(runtime, store), TOKEN)) as url:
            loggers = [logging.getLogger(n) for n in ("uvicorn.access", "uvicorn.error")]
            levels = [lg.level for lg in loggers]
            for lg in loggers:  # what `--log-level debug` would do
                lg.setLevel(logging.DEBUG)
                lg.addHandler(lines)
            try:
                yield url, lines
            finally:
                for lg, level in zip(loggers, levels, strict=True):
                    lg.removeHandler(lines)
                    lg.setLevel(level)
    finally:
        runtime.close()
        store.close()


def test_no_token_in_uvicorns_access_and_websocket_lines(logged: tuple[str, Lines]) -> None:
    url, lines = logged
    with httpx.Client(base_url=url) as http:
        assert http.get(f"/v1/state?token={TOKEN}", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert http.get("/v1/state", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    with connect(url.replace("http://", "ws://") + f"/v1/events?token={TOKEN}", open_timeout=10) as ws:
        ws.recv(timeout=10)
    text = "\n".join(lines.lines)
    assert "/v1/state?token=[redacted]" in text and "WebSocket /v1/events?token=[redacted]" in text, text
    assert TOKEN not in text
