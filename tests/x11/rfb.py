"""A minimal RFB (VNC) client for tests and benchmarks: no security, raw encoding, 32 bpp.

Enough to ask a VNC server for frames and to send pointer and key events the way a
viewer does (RFC 6143), over any connected stream socket (the live view's unix socket).
"""

from __future__ import annotations

import socket
import struct

import numpy as np

__all__ = ["RfbClient"]

RAW = 0
# 32 bits per pixel, depth 24, little endian, true colour, 8 bits each, red at bit 16
_PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)


class RfbClient:
    """``RfbClient(sock)`` does the handshake; ``frame()`` is the whole screen (H x W x 3 RGB)."""

    def __init__(self, sock: socket.socket, *, timeout: float = 15.0) -> None:
        self.sock = sock
        sock.settimeout(timeout)
        version = self._read(12)
        if not version.startswith(b"RFB "):
            raise ConnectionError(f"not an RFB server: {version!r}")
        sock.sendall(b"RFB 003.008\n")
        (count,) = self._read(1)
        if count == 0:
            raise ConnectionError("the server refused the connection")
        types = self._read(count)
        if 1 not in types:
            raise ConnectionError(f"the server wants a password (security types {list(types)})")
        sock.sendall(b"\x01")
        (result,) = struct.unpack(">I", self._read(4))
        if result != 0:
            raise ConnectionError("security handshake failed")
        sock.sendall(b"\x01")  # shared: other viewers stay connected
        self.width, self.height = struct.unpack(">HH", self._read(4))
        self._read(16)  # the server's pixel format: replaced by ours below
        (name_len,) = struct.unpack(">I", self._read(4))
        self.name = self._read(name_len).decode(errors="replace")
        sock.sendall(b"\x00\x00\x00\x00" + _PIXEL_FORMAT)  # SetPixelFormat
        sock.sendall(struct.pack(">BxHi", 2, 1, RAW))  # SetEncodings: raw only
        self.screen = np.zeros((self.height, self.width, 3), np.uint8)

    def _read(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            buf += chunk
        return bytes(buf)

    def request(self, *, incremental: bool) -> None:
        self.sock.sendall(struct.pack(">BBHHHH", 3, int(incremental), 0, 0, self.width, self.height))

    def update(self) -> int:
        """Read messages until one framebuffer update has been applied; its pixel count."""
        while True:
            (kind,) = self._read(1)
            if kind == 0:
                break
            if kind == 2:  # bell
                continue
            if kind == 3:  # server cut text
                self._read(3)
                (n,) = struct.unpack(">I", self._read(4))
                self._read(n)
                continue
            if kind == 1:  # colour map entries
                _, _, n = struct.unpack(">xHH", self._read(5))
                self._read(6 * n)
                continue
            raise ConnectionError(f"unexpected server message {kind}")
        (rects,) = struct.unpack(">xH", self._read(3))
        pixels = 0
        for _ in range(rects):
            x, y, w, h, enc = struct.unpack(">HHHHi", self._read(12))
            if enc != RAW:
                raise ConnectionError(f"unexpected encoding {enc}")
            data = np.frombuffer(self._read(w * h * 4), np.uint8).reshape(h, w, 4)
            self.screen[y : y + h, x : x + w] = data[:, :, 2::-1]  # BGRX -> RGB
            pixels += w * h
        return pixels

    def frame(self) -> np.ndarray:
        self.request(incremental=False)
        self.update()
        return self.screen

    def pointer(self, x: int, y: int, buttons: int = 0) -> None:
        """A PointerEvent: ``buttons`` is the mask of buttons down (1 = left)."""
        self.sock.sendall(struct.pack(">BBHH", 5, buttons, x, y))

    def key(self, keysym: int, down: bool) -> None:
        self.sock.sendall(struct.pack(">BBxxI", 4, int(down), keysym))

    def close(self) -> None:
        self.sock.close()
