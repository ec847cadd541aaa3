"""The runtime's screenshot functions: the agent's view, and a closer look (zoom).

``capture.screen`` grabs and encodes; this wraps its PNGs as :class:`Image` values in
the space they are in. A grabber is called on the executor thread (and the review
frames' one from worker threads, one at a time under its lock), so it opens its screen
connection lazily, on first use. Every failure is a :class:`~capture.CaptureError`,
the one error the executor expects from the machine's senses.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from typing import Literal

from capture import CaptureError
from capture.coords import Rect
from capture.screen import Screen, encode
from daemon.jsonsplice import vouch
from daemon.outcomes import Image

__all__ = ["ScreenGrabber", "b64encode", "png_size"]



def _b64encoder() -> Callable[[bytes], bytes]:
    """SIMD base64 (pybase64): 0.01 ms where the standard library's takes 0.25-0.5 ms for a
    400 kB PNG; the standard library's where pybase64 has no wheel (the same bytes)."""
    try:
        import pybase64
    except ImportError:  # pragma: no cover - exercised where pybase64 has no wheel
        import base64

        return base64.b64encode
    return pybase64.b64encode


b64encode = _b64encoder()

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, whatever produced the bytes."""
    if len(data) < 24 or not data.startswith(_PNG_MAGIC) or data[12:16] != b"IHDR":
        raise CaptureError("the screenshot is not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class ScreenGrabber:
    """A callable returning ``monitor`` (0: the whole desktop) as a base64 PNG
    :class:`Image`, resized to ``size`` if given, labelled ``space``."""

    def __init__(
        self,
        display: str | None = None,
        monitor: int = 0,
        size: tuple[int, int] | None = None,
        space: Literal["agent", "screen"] = "screen",
    ) -> None:
        self.display = display
        self.monitor = monitor
        self.size = size  # the agent's size: one resize, inside the one encode
        self.space = space
        self._screen: Screen | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Image:
        return self._image(self._png, "screenshot", self.space)

    def png(self) -> bytes:
        """The same screenshot as raw PNG bytes (for files: no base64 round trip)."""
        return self._locked(self._png, "screenshot")

    def _png(self, scr: Screen) -> bytes:
        return encode(scr.grab(self.monitor), size=self.size)

    def region(self, box: tuple[int, int, int, int]) -> Image:
        """The screen pixels of ``box`` (x0, y0, x1, y1, screen space) as a PNG ``Image``,
        at full resolution, or scaled down to fit the agent's size if larger."""

        def png(scr: Screen) -> bytes:
            x0, y0, x1, y1 = box
            frame = scr.grab(Rect(x0, y0, x1 - x0, y1 - y0))
            size = None
            if self.size is not None and (frame.width > self.size[0] or frame.height > self.size[1]):
                k = min(self.size[0] / frame.width, self.size[1] / frame.height)
                size = (max(1, round(frame.width * k)), max(1, round(frame.height * k)))
            return encode(frame, size=size)

        return self._image(png, "zoom", "screen")

    def _image(
        self, png_of: Callable[[Screen], bytes], what: str, space: Literal["agent", "screen"]
    ) -> Image:
        """Run ``png_of`` under the lock and wrap its PNG."""
        png = self._locked(png_of, what)
        width, height = png_size(png)
        b64 = b64encode(png)
        return Image(
            media_type="image/png",
            data=vouch(b64.decode("ascii"), b64),  # base64 is plain: its answer splices it unchecked
            width=width,
            height=height,
            space=space,
        )

    def _locked(self, png_of: Callable[[Screen], bytes], what: str) -> bytes:
        """``png_of`` under the lock, the screen opened first; failures as CaptureError."""
        try:
            with self._lock:
                if self._screen is None:
                    self._screen = Screen(self.display).open()
                return png_of(self._screen)
        except CaptureError:
            raise
        except Exception as exc:  # any grabber failure becomes the one capture error
            raise CaptureError(f"{what} failed: {exc}") from exc

    def close(self) -> None:
        """Close the screen connection (call after the executor thread has ended)."""
        with self._lock:
            screen, self._screen = self._screen, None
        if screen is not None:
            screen.close()
