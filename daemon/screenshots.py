"""The runtime's screenshot function: one place to swap how the daemon grabs the screen.

It prefers ``capture.screen`` (``Screen(display)`` + ``encode``) and falls back to
``mss`` + OpenCV while that module is missing. The grabber is called on the executor
thread only, so it opens its screen connection lazily, on that thread, on first use.
Every failure is a :class:`~capture.CaptureError`, the one error the executor expects
from the machine's senses.
"""

from __future__ import annotations

import base64
import importlib
import struct
import threading
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, Literal

from capture import CaptureError
from daemon.actions import Image

__all__ = ["ScreenGrabber", "png_size"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, whatever produced the bytes."""
    if len(data) < 24 or not data.startswith(_PNG_MAGIC) or data[12:16] != b"IHDR":
        raise CaptureError("the screenshot is not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class ScreenGrabber:
    """A callable returning the whole screen as a base64 PNG :class:`Image` (``space="screen"``).

    ``monitor=0`` is the whole virtual desktop (every monitor), as the input
    backend's screen coordinates are.
    """

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
        self.backend = ""  # "capture.screen" or "mss", once the first grab chose
        self._grab: Callable[[], bytes] | None = None
        self._stack = ExitStack()
        self._lock = threading.Lock()
        self._screen: tuple[Any, Any] | None = None  # (capture.screen, its Screen) once open

    def __call__(self) -> Image:
        return self._image(self._grab_png, "screenshot", self.space)

    def _grab_png(self) -> bytes:
        assert self._grab is not None
        return self._grab()

    def _image(self, png_of: Callable[[], bytes], what: str, space: Literal["agent", "screen"]) -> Image:
        """Run ``png_of`` under the lock (opening the screen first) and wrap its PNG."""
        try:
            with self._lock:
                if self._grab is None:
                    self._grab = self._open()
                png = png_of()
        except CaptureError:
            raise
        except Exception as exc:  # any grabber failure becomes the one capture error
            raise CaptureError(f"{what} failed: {exc}") from exc
        width, height = png_size(png)
        return Image(
            media_type="image/png",
            data=base64.b64encode(png).decode("ascii"),
            width=width,
            height=height,
            space=space,
        )

    def _open(self) -> Callable[[], bytes]:
        capture_screen: Any
        try:
            capture_screen = importlib.import_module("capture.screen")  # may not exist yet
        except ImportError:
            capture_screen = None
        if (
            capture_screen is not None
            and hasattr(capture_screen, "Screen")
            and hasattr(capture_screen, "encode")
        ):
            scr: Any = self._stack.enter_context(capture_screen.Screen(self.display))
            self._screen = (capture_screen, scr)
            self.backend = "capture.screen"
            return lambda: bytes(
                capture_screen.encode(scr.grab(monitor=self.monitor), size=self.size, fmt="png")
            )
        return self._open_mss()

    def _open_mss(self) -> Callable[[], bytes]:
        import cv2
        import mss
        import numpy as np

        kwargs = {"display": self.display} if self.display else {}
        factory = getattr(mss, "MSS", None) or mss.mss  # mss 10.2 deprecates the lower-case name
        sct = self._stack.enter_context(factory(**kwargs))
        self.backend = "mss"

        def grab() -> bytes:
            shot = sct.grab(sct.monitors[self.monitor])
            bgr: Any = np.frombuffer(shot.raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)[
                ..., :3
            ]
            if self.size is not None and self.size != (shot.width, shot.height):
                bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
            # fastest compression: a screenshot is sent once and the agent decodes it once
            ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            if not ok:
                raise CaptureError("OpenCV could not encode the screenshot as PNG")
            return bytes(buf.tobytes())

        return grab

    def region(self, box: tuple[int, int, int, int]) -> Image:
        """The screen pixels of ``box`` (x0, y0, x1, y1, screen space) as a PNG ``Image``,
        at full resolution, or scaled down to fit the agent's size if larger."""

        def png() -> bytes:
            if self._screen is None:
                raise CaptureError("zoom needs capture.screen")
            from capture.coords import Rect

            module, scr = self._screen
            x0, y0, x1, y1 = box
            frame = scr.grab(Rect(x0, y0, x1 - x0, y1 - y0))
            size = None
            if self.size is not None and (frame.width > self.size[0] or frame.height > self.size[1]):
                k = min(self.size[0] / frame.width, self.size[1] / frame.height)
                size = (max(1, round(frame.width * k)), max(1, round(frame.height * k)))
            return bytes(module.encode(frame, size=size, fmt="png"))

        return self._image(png, "zoom", "screen")

    def close(self) -> None:
        """Close the screen connection (call after the executor thread has ended)."""
        with self._lock:
            self._grab = None
            self._screen = None
            self._stack.close()
