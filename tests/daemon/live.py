"""Serve an app over real HTTP on a free loopback port, in a thread, for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from daemon.server import make_server


def poll(pred: Callable[[], bool], timeout: float = 5.0, every: float = 0.02) -> bool:
    """True as soon as ``pred()`` is; False after ``timeout`` (a bounded wait, not a sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` behind uvicorn on 127.0.0.1:<free port>; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = make_server(app, before_shutdown=lambda: None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert poll(lambda: server.started, timeout=10), "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
