"""stdin and stdout for the MCP SDK, read and written on the event loop.

The SDK's ``stdio_server()`` wraps them with ``anyio.wrap_file``: every line read and
every reply written is a call on a worker thread, two thread hops a tool call (about a
millisecond of a proxy that otherwise costs little more than its HTTP request). Here
they are asyncio pipes: a line is read when the loop sees it, a reply leaves in one
write. Where stdin or stdout is not a pipe (a file, a terminal), the SDK's own streams
serve as before.

Like the SDK, fds 0 and 1 are pointed away (at the null device and at stderr) while
serving, so nothing else in the process can write into the protocol stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

__all__ = ["pipes"]

_LINE_LIMIT = 1 << 24  # a JSON-RPC message is one line; 64 KiB (asyncio's default) is too few


class _Lines:
    """What the SDK iterates: stdin's lines as text."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        line = await self._reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


class _Out:
    """What the SDK writes to: text, then ``flush()`` (which waits while the pipe is full)."""

    def __init__(self, transport: asyncio.WriteTransport, protocol: Any) -> None:
        self._transport = transport
        self._writer = asyncio.StreamWriter(transport, protocol, None, asyncio.get_running_loop())

    async def write(self, text: str) -> None:
        self._writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self._writer.drain()


def _same_file(a: int, b: int) -> bool:
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


@contextlib.asynccontextmanager
async def pipes() -> AsyncIterator[tuple[_Lines, _Out] | None]:
    """``(stdin lines, stdout)`` for ``stdio_server(stdin, stdout)``; None if either is not
    a pipe or a socket (the caller then lets the SDK open them)."""
    loop = asyncio.get_running_loop()
    if _same_file(1, 2):
        # 2>&1: a non-blocking stdout would make stderr non-blocking too (one open file)
        yield None
        return
    wire_in, wire_out = os.dup(0), os.dup(1)
    try:
        reader = asyncio.StreamReader(limit=_LINE_LIMIT)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(wire_in, "rb", buffering=0)
        )
        wire_in = -1  # the transport owns it now
        try:
            write_transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, os.fdopen(wire_out, "wb", buffering=0)
            )
            wire_out = -1
        except BaseException:
            read_transport.close()
            raise
    except (OSError, ValueError):  # a regular file or a terminal: not for asyncio pipes
        for fd in (wire_in, wire_out):
            if fd >= 0:
                os.close(fd)
        yield None
        return
    saved = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        yield _Lines(reader), _Out(write_transport, protocol)
    finally:
        os.dup2(saved[0], 0)
        os.dup2(saved[1], 1)
        for fd in saved:
            os.close(fd)
        read_transport.close()
        write_transport.close()
