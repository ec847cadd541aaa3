"""``python -m daemon.cli.mcp`` as a subprocess spoken to in raw JSON-RPC lines, for tests.

What a client that is not the Python SDK (Claude Desktop, an IDE) writes and reads: one
JSON message a line on the server's stdin and stdout. A reader thread collects stdout's
lines, so a test waits for a reply with a timeout instead of blocking on a pipe.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

ROOT = Path(__file__).resolve().parents[2]
Message = dict[str, Any]


def command(url: str, data: Path) -> list[str]:
    return [sys.executable, "-m", "daemon.cli.mcp", "--url", url, "--data-dir", str(data)]


class RawClient:
    """The MCP server on pipes; ``send`` a message (dict, or a raw line as bytes), ``recv``
    the next reply, ``close`` stdin and collect what is left."""

    def __init__(self, url: str, data: Path, stderr: IO[bytes] | int = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen(
            command(url, data), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=ROOT
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(b"")  # EOF

    def send(self, message: Message | bytes) -> None:
        assert self.proc.stdin is not None
        line = message if isinstance(message, bytes) else json.dumps(message).encode() + b"\n"
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def request(self, request_id: int | str, method: str, params: Message | None = None) -> None:
        message: Message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def notify(self, method: str, params: Message | None = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    def recv(self, timeout: float = 30.0) -> Message:
        """The next message the server wrote (AssertionError on EOF or after ``timeout``)."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no reply in {timeout} s") from None
        assert line, "the server closed stdout"
        assert line.endswith(b"\n") and line.count(b"\n") == 1, line[:200]
        message: Message = json.loads(line)
        return message

    def call(self, request_id: int | str, method: str, params: Message | None = None) -> Message:
        """A request and its reply (the next message: use only with nothing else in flight)."""
        self.request(request_id, method, params)
        reply = self.recv()
        assert reply.get("id") == request_id, reply
        return reply

    def initialize(self, version: str = "2025-11-25") -> Message:
        reply = self.call(0, "initialize", {"protocolVersion": version, "capabilities": {},
                                            "clientInfo": {"name": "test", "version": "0"}})  # fmt: skip
        self.notify("notifications/initialized")
        return reply

    def close(self, timeout: float = 30.0) -> tuple[int, list[Message]]:
        """Close stdin; the exit code and every message written after what was read."""
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        rest = []
        while (line := self._lines.get(timeout=5)) != b"":
            rest.append(json.loads(line))
        return code, rest

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()
