"""A local HTTP receiver for the webhook (a real http.server on a thread)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Delivery", "Receiver", "receiving", "valid"]


@dataclass(frozen=True, slots=True)
class Delivery:
    body: bytes
    headers: dict[str, str]
    at: float
    answered: int

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


def valid(secret: bytes, d: Delivery) -> bool:
    """How a receiver checks a delivery (the recipe of docs/notifications.md)."""
    want = "sha256=" + hmac.new(secret, d.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, d.headers.get("x-driverseat-signature", ""))


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.deliveries: list[Delivery] = []
        self.answers: list[int] = []  # status codes to answer with, first first; then 200
        self.hang = threading.Event()  # set: read the request, never answer (until released)
        self.release = threading.Event()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook/T0K3N-in-the-path?key=also-secret"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        srv = self.server
        with srv.lock:
            status = srv.answers.pop(0) if srv.answers else 200
            srv.deliveries.append(Delivery(body, {k.lower(): v for k, v in self.headers.items()},
                                           time.time(), status))  # fmt: skip
        if srv.hang.is_set():
            srv.release.wait(30)
            return
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def receiving() -> Iterator[Receiver]:
    r = Receiver()
    t = threading.Thread(target=r.serve_forever, daemon=True)
    t.start()
    try:
        yield r
    finally:
        r.release.set()
        r.shutdown()
        r.server_close()
        t.join(timeout=5)
