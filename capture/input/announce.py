"""Tell a recorder in another process which input events are the agent's.

Every XTest injector on a display shares the core XTEST slave devices, so a recorder
(``driverseat record``) cannot tell the agent's injected events from another injector's
(VNC, remote desktop: a person, for the recording) by ``sourceid`` alone, and its own
ledger is empty: it injects nothing. So the injecting backend announces each primitive,
before sending it, on a Unix stream socket in the abstract namespace named after the
display; the recorder listens there and fills its ledger from what it reads.

Why that is exact, not a heuristic: the announcement is written to the socket before
the XTest request is sent, so by the time the recorder reads the resulting raw event
from the X server the announcement is already in its receive buffer. A recorder that
misses a match drains the socket and looks again (:meth:`InjectionListener.drain`).

The listener also drains on a thread of its own (:meth:`InjectionListener.start`): a
Unix stream socket accepts only a few hundred unread small writes (each counts a whole
buffer's overhead); an injector whose write blocks for ``SEND_TIMEOUT_S`` drops the
connection rather than hold the agent up.

No recorder listening costs the injector one failed ``connect`` every 0.1 s; a recorder
started while an agent types misses at most that much of the agent's first input.
"""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import struct
import threading
import time

from capture.errors import CaptureError
from capture.input._base import Kind, Ledger

__all__ = ["InjectionAnnouncer", "InjectionListener", "address"]

_KINDS = list(Kind)
_RECORD = struct.Struct("<BI")  # kind index, code (keycode or button; 0 for motion)
SEND_TIMEOUT_S = 0.05
RETRY_S = 0.1  # a failed connect to an abstract socket costs microseconds


def address(display_name: str) -> bytes:
    """The abstract socket name for one display (``":1"``, ``"localhost:1.0"`` -> ``:1``)."""
    m = re.search(r":(\d+)", display_name)
    number = m.group(1) if m else display_name
    return b"\0driverseat-injections-" + number.encode()


class InjectionAnnouncer:
    """The injecting side: one connection to a listening recorder, if there is one."""

    def __init__(self, display_name: str) -> None:
        self._addr = address(display_name)
        self._sock: socket.socket | None = None
        self._next_try = 0.0

    def announce(self, kind: Kind, code: int) -> None:
        if self._sock is None and not self._connect():
            return
        assert self._sock is not None
        try:
            self._sock.send(_RECORD.pack(_KINDS.index(kind), code))
        except OSError:
            # the recorder went away (or stopped reading): drop it, try again later
            self.close()
            self._next_try = time.monotonic() + RETRY_S

    def _connect(self) -> bool:
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + RETRY_S
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self._addr)
        except OSError:
            sock.close()
            return False
        # a recorder that falls behind holds the agent up for at most this long per
        # primitive before it is dropped (never for ever: the agent must not hang on it)
        sock.settimeout(SEND_TIMEOUT_S)
        self._sock = sock
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class InjectionListener:
    """The recorder's side: accepts injectors and moves their announcements into a ledger."""

    def __init__(self, display_name: str, ledger: Ledger) -> None:
        self._ledger = ledger
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._server.bind(address(display_name))
        except OSError as exc:
            self._server.close()
            if exc.errno == errno.EADDRINUSE:
                raise CaptureError(
                    f"another recorder already listens on display {display_name}", display=display_name
                ) from exc
            raise CaptureError(f"cannot listen for injections: {exc}") from exc
        self._server.listen(16)
        self._server.setblocking(False)
        self._peers: dict[socket.socket, bytes] = {}
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._thread: threading.Thread | None = None
        self.announced = 0

    def start(self) -> None:
        """Drain whenever an injector writes, so none of them ever finds the socket full."""
        self._thread = threading.Thread(target=self._run, name="driverseat-announcements", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                fds = [self._stop_r, self._server.fileno(), *(p.fileno() for p in self._peers)]
            ready, _, _ = select.select(fds, [], [])
            if self._stop_r in ready:
                return
            self.drain()

    def drain(self) -> None:
        """Accept new injectors and read every announcement already sent."""
        with self._lock:
            self._drain()

    def _drain(self) -> None:
        while True:
            try:
                peer, _ = self._server.accept()
            except (BlockingIOError, InterruptedError):
                break
            peer.setblocking(False)
            self._peers[peer] = b""
        for peer in list(self._peers):
            buf = self._peers[peer]
            closed = False
            while True:
                try:
                    chunk = peer.recv(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                buf += chunk
            n = len(buf) // _RECORD.size
            for i in range(n):
                kind, code = _RECORD.unpack_from(buf, i * _RECORD.size)
                self._ledger.add(_KINDS[kind], code)
            self.announced += n
            buf = buf[n * _RECORD.size :]
            if closed:
                peer.close()
                del self._peers[peer]
            else:
                self._peers[peer] = buf

    def close(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            for peer in self._peers:
                peer.close()
            self._peers.clear()
            self._server.close()
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)


def announcements_enabled() -> bool:
    """``DRIVERSEAT_ANNOUNCE=0`` turns the injector's side off (benchmarks of raw XTest)."""
    return os.environ.get("DRIVERSEAT_ANNOUNCE", "1") != "0"
