"""A small ring of recent screen frames, to pick the one from just before an action.

A frame is grabbed every ``interval`` seconds, and soon after :meth:`FrameRing.poke`
(called when an action ends, so the frame before the next one is fresh). A grab equal to
the newest frame in the ring is not kept again: the entry that shows those pixels keeps
its first time, so :meth:`before` returns the last *visually distinct* frame whose
pixels were on screen before the given time. Only ``size`` distinct frames are held
(raw BGRA, 8 MB each at 1920x1080), so memory stays flat however long the recording.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from capture.errors import CaptureError
from capture.screen import Frame

__all__ = ["FrameRing", "TimedFrame", "same_pixels"]


def same_pixels(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two grabs hold the same pixels: ``np.array_equal``, a third as dear for a
    whole screen. Compared as 64-bit words where both are whole contiguous buffers of the
    same shape: 0.9-1.4 ms for 1920x1080 where byte by byte took 2.3-3.0 (and an 8 MB array
    of booleans), four times a second on an idle desktop (docs/hardening.md, tenth pass)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.nbytes % 8 == 0 and a.flags.c_contiguous and b.flags.c_contiguous:
        return bool(np.array_equal(a.reshape(-1).view(np.uint64), b.reshape(-1).view(np.uint64)))
    return bool(np.array_equal(a, b))


@dataclass(frozen=True, slots=True)
class TimedFrame:
    """``t``: when these pixels were first grabbed (the grab had finished by then);
    ``title``: the active window's title read with the grab."""

    t: float
    frame: Frame
    title: str | None = None


class FrameRing:
    """Thread-safe ring; ``run`` in a thread of its own with :meth:`start`."""

    def __init__(
        self,
        grab: Callable[[], Frame],
        *,
        title: Callable[[], str | None] = lambda: None,
        interval: float = 0.25,
        size: int = 6,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._grab = grab
        self._title = title
        self.interval = interval
        self._clock = clock
        self._frames: deque[TimedFrame] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.grabs = 0
        self.last_grab = 0.0  # when the latest grab finished, equal to the newest or not
        self.failure: BaseException | None = None

    def add(self, t: float, frame: Frame, title: str | None = None) -> TimedFrame:
        """Keep ``frame`` grabbed at ``t`` unless it equals the newest; returns the entry
        that now shows those pixels."""
        with self._lock:
            self.last_grab = max(self.last_grab, t)
            last = self._frames[-1] if self._frames else None
            if (
                last is not None
                and last.title == title
                and same_pixels(last.frame.pixels, frame.pixels)
            ):
                return last
            entry = TimedFrame(t, frame, title)
            self._frames.append(entry)
            return entry

    def before(self, t: float) -> TimedFrame | None:
        """The newest distinct frame first seen before ``t``, or None."""
        with self._lock:
            for entry in reversed(self._frames):
                if entry.t < t:
                    return entry
        return None

    def latest(self) -> TimedFrame | None:
        with self._lock:
            return self._frames[-1] if self._frames else None

    def grab_now(self) -> TimedFrame:
        title = self._title()
        frame = self._grab()
        self.grabs += 1
        return self.add(self._clock(), frame, title)

    def poke(self) -> None:
        """Grab soon (an action just ended)."""
        self._wake.set()

    # -- the grabbing thread ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="driverseat-frames", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.grab_now()
                self._wake.wait(self.interval)
                self._wake.clear()
        except CaptureError as exc:
            self.failure = exc

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
