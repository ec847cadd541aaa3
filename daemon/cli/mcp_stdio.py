"""stdin and stdout for ``driverseat mcp``, read and written on the event loop.

Where they are pipes or sockets (as every MCP client starts a server) they become asyncio
pipes (on uvloop too, whose libuv aborts the process on a regular file: hence the check): a line is read when the loop sees it and a reply leaves in one write, with no thread
hop either way (the SDK's ``anyio.wrap_file`` streams cost two a call, about a millisecond).
Where either is not (a file, a terminal, or stdout shared with stderr by ``2>&1``, whose
open file a non-blocking stdout would make non-blocking too), a reader thread hands the
lines to the loop and replies are written as blocking writes (a file or a terminal takes
them at once).

A pipe's buffer is widened (to the system's ``pipe-max-size``, 1 MiB by default, at most
4 MiB): a screenshot's reply (half a megabyte of base64) then leaves in one write and is
read in one, where Linux's 64 KiB pipe took eight writes, each waiting for the client to
read the one before (0.6 ms of a screenshot's call, measured; docs/hardening.md).

Like the SDK, fds 0 and 1 are pointed away (at the null device and at stderr) while
serving, so nothing else in the process can read from or write into the protocol stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import stat
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Protocol

__all__ = ["LINE_LIMIT", "Wire", "stdio"]

LINE_LIMIT = 1 << 24  # a JSON-RPC message is one line; 64 KiB (asyncio's default) is too few


class Wire(Protocol):
    """One side of the JSON-RPC stream: lines in, whole messages out."""

    async def readline(self) -> bytes:
        """The next line with its newline; ``b""`` at the end. Raises ValueError for a
        line over :data:`LINE_LIMIT` (dropped: reading goes on after it)."""
        ...

    async def send(self, data: bytes) -> None:
        """Write ``data`` in one write; waits while the reader is behind."""
        ...


class _Pipes:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def readline(self) -> bytes:
        try:
            return await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial  # the end: a last line without its newline, or b""
        except asyncio.LimitOverrunError as exc:
            consumed = exc.consumed
        # too long: dropped up to its newline, however far that is (StreamReader.readline
        # would drop only what it has, and the rest would come as a line of its own)
        while True:
            await self._reader.readexactly(consumed)
            try:
                await self._reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as exc:
                consumed = exc.consumed
                continue
            except asyncio.IncompleteReadError:
                pass  # the end came first: the next call says so
            raise ValueError("line too long")

    async def send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()


class _Blocking:
    """A reader thread for stdin (it may block in ``read`` for ever: a daemon thread that
    never holds up the exit); writes straight to the fd."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._out = fd_out
        self._thread = threading.Thread(target=self._read, args=(fd_in,), daemon=True,
                                        name="mcp-stdin")  # fmt: skip
        self._thread.start()

    def _read(self, fd: int) -> None:
        with open(fd, "rb", buffering=1 << 16) as f:
            while True:
                line = f.readline(LINE_LIMIT + 1)
                self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
                if not line:
                    return
                if len(line) > LINE_LIMIT and not line.endswith(b"\n"):
                    while (rest := f.readline(LINE_LIMIT)) and not rest.endswith(b"\n"):
                        pass  # the rest of a line too long: dropped with it

    async def readline(self) -> bytes:
        line = await self._lines.get()
        if line and len(line) > LINE_LIMIT:
            raise ValueError("line too long")
        return line or b""

    async def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._out, view):]


async def _as_pipes(fd_in: int, fd_out: int) -> tuple[_Pipes, list[asyncio.BaseTransport]] | None:
    """``fd_in`` and ``fd_out`` as asyncio pipes (taking ownership), or None if either is
    not a pipe or a socket (both are then left open)."""
    if not (_is_pipe(fd_in) and _is_pipe(fd_out)):  # asked of libuv, a file aborts the process
        return None
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    try:
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd_in, "rb", buffering=0, closefd=False)
        )
    except (OSError, ValueError):  # a regular file or a terminal: not for asyncio pipes
        return None
    try:
        write_transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(fd_out, "wb", buffering=0, closefd=False)
        )
    except (OSError, ValueError):
        read_transport.close()
        os.set_blocking(fd_in, True)  # for the reader thread that serves instead
        return None
    # drain() waits until the pipe took everything: nothing is left in a buffer at the exit
    write_transport.set_write_buffer_limits(high=0)
    writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
    return _Pipes(reader, writer), [read_transport, write_transport]


_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux's; Python has it from 3.10
_PIPE_MAX = 4 << 20


def _widen(fd: int) -> None:
    """Give a pipe the largest buffer an unprivileged process may (best effort: a pipe
    it cannot widen, or no pipe at all, is left as it is)."""
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
        with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as f:
            limit = min(int(f.read()), _PIPE_MAX)
        fcntl.fcntl(fd, _F_SETPIPE_SZ, limit)
    except (OSError, ValueError):
        pass


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _same_file(a: int, b: int) -> bool:
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


@contextlib.contextmanager
def _fds_pointed_away() -> Iterator[tuple[int, int]]:
    """Copies of fds 0 and 1 for the protocol, while 0 reads the null device and 1 writes
    to stderr; restored (and the copies closed) at the end."""
    wire = os.dup(0), os.dup(1)
    saved = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    try:
        yield wire
    finally:
        os.dup2(saved[0], 0)
        os.dup2(saved[1], 1)
        for fd in saved:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.close(wire[1])
        # wire[0] is closed by the reader thread's file, or here for pipes (closefd=False)


@contextlib.asynccontextmanager
async def stdio() -> AsyncIterator[Wire]:
    """The process's stdin and stdout as a :class:`Wire`."""
    with _fds_pointed_away() as (fd_in, fd_out):
        _widen(fd_out)
        pipes = None if _same_file(fd_out, 2) else await _as_pipes(fd_in, fd_out)
        if pipes is None:
            yield _Blocking(fd_in, fd_out)
            return
        wire, transports = pipes
        try:
            yield wire
        finally:
            for transport in transports:
                transport.close()
            with contextlib.suppress(OSError):
                os.close(fd_in)
