"""Bench helper: the floor under an API call, a server on loopback that answers at once.

:func:`capture` asks the real daemon once per kind of call over a raw socket and keeps
its answer's bytes as they came (status line, headers, body). :func:`canned` serves them
from another process (as the daemon is): a thread per connection, blocking on ``recv``,
which answers each complete request (headers and a ``Content-Length`` body) with the
bytes captured for it, in one ``sendall``, and keeps the connection (TCP_NODELAY, as the
daemon's). No parsing beyond the request line, the length and a POST body's
``"action"``, no routing, no work: a client's time against it is the client's own cost
plus the kernel's loopback, the floor no server can go under.

``python bench/_canned.py ANSWERS.json`` serves a file of ``{key: base64 answer}``
(:func:`key`) on a free port and prints the port.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
UNKNOWN = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}"


def key(method: str, target: str, body: bytes) -> str:
    """What an answer is looked up by: the method, the path with its query and, for a
    body, its ``action`` (clients encode the same JSON with different spacing)."""
    action = json.loads(body).get("action", "") if body else ""
    return f"{method} {target} {action}".rstrip()


def _read_message(sock: socket.socket, buf: bytearray) -> tuple[bytes, bytes]:
    """One whole HTTP message from ``sock`` (head, body), its bytes taken off ``buf``;
    ``ConnectionError`` if the peer closes first."""
    while (end := buf.find(b"\r\n\r\n")) < 0:
        _fill(sock, buf)
    head = bytes(buf[: end + 4])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding":
            raise ValueError(f"a chunked message is not handled: {head!r}")
    while len(buf) < end + 4 + length:
        _fill(sock, buf)
    body = bytes(buf[end + 4 : end + 4 + length])
    del buf[: end + 4 + length]
    return head, body


def _fill(sock: socket.socket, buf: bytearray) -> None:
    data = sock.recv(1 << 20)
    if not data:
        raise ConnectionError("closed")
    buf += data


def capture(
    url: str, token: str, method: str, target: str, body: dict[str, Any] | None
) -> tuple[str, bytes]:
    """The daemon's answer to one request, its bytes as they came, on a kept connection
    (as the clients' are: a ``Connection: close`` could change the headers), and its
    :func:`key`."""
    parts = urlsplit(url)
    content = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
    )
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + content)
        answer_head, answer_body = _read_message(sock, bytearray())
    if not answer_head.startswith(b"HTTP/1.1 200 "):
        raise SystemExit(
            f"the daemon refused {method} {target}: {answer_head!r} {answer_body[:200]!r}"
        )
    return key(method, target, content), answer_head + answer_body


def _answer(conn: socket.socket, answers: dict[str, bytes]) -> None:
    buf = bytearray()
    with conn:
        try:
            while True:
                head, body = _read_message(conn, buf)
                method, target, _ = head.split(b" ", 2)
                wanted = key(method.decode(), target.decode(), body)
                if wanted not in answers:  # a client asked what was not captured: say so
                    print(f"canned server: no answer for {wanted!r}", file=sys.stderr)
                conn.sendall(answers.get(wanted, UNKNOWN))
        except OSError:  # the client closed (ConnectionError) or reset
            pass
        except ValueError as exc:  # a request this server cannot read: close, say why
            print(f"canned server: {exc}", file=sys.stderr)


def serve(answers: dict[str, bytes]) -> None:
    """Answer on a free loopback port (printed first) until killed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    print(sock.getsockname()[1], flush=True)
    while True:
        conn, _ = sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=_answer, args=(conn, answers), daemon=True).start()


@contextmanager
def canned(answers: dict[str, bytes]) -> Iterator[str]:
    """The canned server in its own process; yields its URL."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({k: base64.b64encode(v).decode() for k, v in answers.items()}, f)
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), f.name],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        if not port:
            raise SystemExit("the canned server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        os.unlink(f.name)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        serve({k: base64.b64decode(v) for k, v in json.load(f).items()})
