"""Serve an app over real HTTP on a free loopback port, in a thread, for tests."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from daemon.api.app import make_server


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
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # as serve binds
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


class StderrLines:
    """Collect a child process's stderr lines on a thread; wait for one matching a pattern."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_line(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first line matching ``pattern``; AssertionError if none by ``timeout`` or exit."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if m := re.search(pattern, line):
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no line matching {pattern!r} in: {self.lines[-30:]}")
                self._cond.wait(min(left, 0.2))

    def close(self) -> None:
        """After the process ended: let the reader finish and close the pipe."""
        self._reader.join(timeout=5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
