"""Screenshots: one mss grabber, frames as numpy views, one resize and one encode.

The hot path (see x11-input.md, "Screenshots") is grab -> numpy view -> one resize ->
one encode. mss 10 on X11 grabs with XShmGetImage (XGetImage when MIT-SHM is missing);
the grab's bytes are viewed as a numpy array without a copy, and OpenCV resizes and
encodes it.

Resize (measured on a 2-core machine, 1920x1080 BGRA -> 1366x768): INTER_LINEAR 1.4 ms,
INTER_AREA 11.6 ms. Down to half size, bilinear interpolation still reads every source
pixel's neighbourhood, so text stays legible and LINEAR is used; below half size it
starts skipping pixels (aliasing, lost thin lines), so INTER_AREA averages instead; the
grab is then larger than 2732x1536 and AREA's cost is the price of a readable image.
Upscaling (an explicit agent size above the monitor's) uses LINEAR.

PNG, 1366x768 web page (midscene githubstatus), same machine and run: OpenCV/libpng at
zlib level 1 25 ms (21-32 ms across pages with its adaptive filtering; 6.6-14.5 ms with
the fixed SUB filter and zlib's RLE strategy); a hand-built PNG with ISA-L deflate
6.4 ms; fpng (SIMD PNG writer, lossless, files within 1 % of libpng level 1) 2.0 ms. So
:func:`encode` writes PNGs with fpng, and falls back to OpenCV with SUB + RLE where the
fpng wheel is missing (OpenCV >= 4.11 exposes the filter; older builds keep theirs).

Scale factor (DPI): on X11, RandR 1.5 monitors report their physical size; a monitor's
``scale_factor`` is its DPI / 96 rounded to a quarter, and 1.0 when the size is missing
or absurd (projectors and some TVs report 0 mm or centimetres). Other platforms: 1.0.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, Self

import cv2
import numpy as np
import numpy.typing as npt

from capture.closing import Closing
from capture.coords import Monitor, Point, Rect, Space
from capture.errors import CaptureError

if TYPE_CHECKING:
    import mss

__all__ = ["FRAME_MMAP_THRESHOLD", "FRAME_TRIM_THRESHOLD", "Frame", "ImageFormat", "Screen", "encode", "keep_frame_buffers"]

ImageFormat = Literal["png", "jpeg", "webp"]

_DEFAULT_QUALITY: Final[dict[str, int]] = {"jpeg": 85, "webp": 80}
_EXTENSIONS: Final[dict[str, str]] = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


@dataclass(frozen=True, slots=True, eq=False)
class Frame:
    """One grab: ``pixels`` is a read-only ``(height, width, 4)`` uint8 BGRA view of the
    grabbed bytes (no copy), ``rect`` the screen-space area it covers.

    The fourth byte is padding on X11 (not meaningful alpha); :func:`encode` drops it.
    """

    pixels: npt.NDArray[np.uint8]
    rect: Rect

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def rgb_at(self, x: int, y: int) -> tuple[int, int, int]:
        """The ``(r, g, b)`` of screen pixel ``(x, y)`` (absolute screen coordinates)."""
        if not self.rect.contains(Point(x, y, Space.SCREEN)):
            raise CaptureError(
                f"screen pixel ({x}, {y}) is outside this frame {self.rect}", x=x, y=y
            )
        b, g, r, _ = self.pixels[y - self.rect.top, x - self.rect.left]
        return (int(r), int(g), int(b))


class Screen(Closing):
    """The desktop's monitors, screenshots and mouse position; a context manager.

    >>> with Screen() as screen:  # doctest: +SKIP
    ...     frame = screen.grab(1)
    ...     png = encode(frame, (1366, 768))

    One mss instance (and on X11 one Xlib connection, opened on first need) lives as
    long as the ``with`` block. A lock serialises every call, so one Screen may be
    shared by threads; threads that must grab in parallel each open their own Screen.
    ``display`` is the X display name (``":1"``); ``None`` means ``$DISPLAY``.
    """

    def __init__(self, display: str | None = None) -> None:
        self.display = display
        self._lock = threading.Lock()
        self._mss: mss.MSS | None = None
        self._xlib: Any = None  # Xlib.display.Display, imported lazily (X11 only)
        self._monitors: list[Monitor] | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def open(self) -> Self:
        """Connect to the display; :meth:`__enter__` calls this."""
        with self._lock:
            if self._mss is None:
                keep_frame_buffers()
                self._mss = self._new_mss()
        return self

    def close(self) -> None:
        """Release the grabber and the X connection; safe to call twice."""
        with self._lock:
            grabber, self._mss = self._mss, None
            xlib, self._xlib = self._xlib, None
            self._monitors = None
        if grabber is not None:
            grabber.close()
        if xlib is not None:
            xlib.close()

    def __enter__(self) -> Self:
        return self.open()

    def refresh(self) -> None:
        """Forget the monitor layout and reconnect the grabber.

        Call after the layout or resolution changed: mss sizes its shared-memory
        buffer for the desktop at connection time.
        """
        with self._lock:
            self._require_open()
            old, self._mss = self._mss, None
            self._monitors = None
            if old is not None:
                old.close()
            self._mss = self._new_mss()

    def _new_mss(self) -> mss.MSS:
        import mss as mss_module
        from mss.exception import ScreenShotError

        kwargs: dict[str, Any] = {}
        if sys.platform.startswith("linux") and self.display is not None:
            kwargs["display"] = self.display  # mss warns about the keyword elsewhere
        # mss.MSS arrived in 10.2 (mss.mss() now warns); older 10.x only have mss.mss()
        factory = getattr(mss_module, "MSS", None) or mss_module.mss
        try:
            return factory(**kwargs)
        except ScreenShotError as exc:
            raise CaptureError(
                f"cannot open the screen for screenshots ({exc}); on Linux an X11 session "
                "is needed: is DISPLAY set and the server running?",
                display=self.display,
            ) from exc

    def _require_open(self) -> mss.MSS:
        if self._mss is None:
            raise CaptureError("the Screen is closed: use `with Screen() as screen:`")
        return self._mss

    # -- monitors -----------------------------------------------------------------------

    def monitors(self) -> list[Monitor]:
        """Index 0 is the whole virtual desktop (as in mss); then each monitor, the
        primary first, the others by position (left, then top).

        The layout is read once per connection; :meth:`refresh` reads it again.
        """
        with self._lock:
            return list(self._monitors_locked())

    def _monitors_locked(self) -> list[Monitor]:
        grabber = self._require_open()
        if self._monitors is not None:
            return self._monitors
        from mss.exception import ScreenShotError

        try:
            raw = grabber.monitors
        except ScreenShotError as exc:
            raise CaptureError(f"cannot list the monitors: {exc}", display=self.display) from exc
        if not raw:
            raise CaptureError("the screenshot backend reported no screen", display=self.display)
        randr = self._randr_monitors()
        whole, rest = raw[0], raw[1:]
        # primary first (is_primary is absent or False everywhere when unknown), then
        # reading order; mss itself follows the server's order, which is arbitrary
        rest = sorted(rest, key=lambda m: (not m.get("is_primary", False), m["left"], m["top"]))
        out: list[Monitor] = []
        for index, m in enumerate([whole, *rest]):
            geometry = (m["left"], m["top"], m["width"], m["height"])
            known = randr.get(geometry)
            name = known.name if known else str(m.get("name") or m.get("output") or "")
            out.append(
                Monitor(
                    *geometry,
                    index=index,
                    name=name,
                    primary=bool(m.get("is_primary", False)),
                    scale_factor=_scale_factor(
                        m["width"], m["height"], known.mm if known else None
                    ),
                )
            )
        factors = {m.scale_factor for m in out[1:]}
        if (
            len(factors) == 1
            and (whole["left"], whole["top"], whole["width"], whole["height"]) not in randr
        ):
            # the desktop as a whole is no RandR monitor: it has a factor only if all
            # its monitors agree on one
            out[0] = dataclasses.replace(out[0], scale_factor=factors.pop())
        self._monitors = out
        return out

    def _randr_monitors(self) -> dict[tuple[int, int, int, int], _RandrMonitor]:
        """``(x, y, w, h) ->`` physical size and name, from RandR 1.5; empty when unknown."""
        if not sys.platform.startswith("linux"):
            return {}
        try:
            xlib = self._xlib_locked()
            from Xlib import error as xerror
            from Xlib.ext import randr
        except (CaptureError, ImportError):
            return {}  # no Xlib or no connection: sizes and names are simply unknown
        try:
            if not xlib.has_extension("RANDR"):
                return {}
            version = randr.query_version(xlib)
            if (version.major_version, version.minor_version) < (1, 5):
                return {}
            reply = randr.get_monitors(xlib.screen().root, True)
        except (xerror.XError, xerror.ConnectionClosedError, OSError) as exc:
            raise CaptureError(f"cannot read the monitors' sizes: {exc!r}") from exc
        out: dict[tuple[int, int, int, int], _RandrMonitor] = {}
        for m in reply.monitors:
            try:
                name = str(xlib.get_atom_name(m.name))
            except (xerror.XError, xerror.ConnectionClosedError, OSError):
                name = ""  # a name is a nicety; the geometry is what counts
            mm = (m.width_in_millimeters, m.height_in_millimeters)
            out[(m.x, m.y, m.width_in_pixels, m.height_in_pixels)] = _RandrMonitor(mm, name)
        return out

    # -- grabbing -----------------------------------------------------------------------

    def grab(self, monitor: int | Monitor | Rect = 0) -> Frame:
        """Grab a monitor (by index or :class:`Monitor`) or any screen-space :class:`Rect`
        inside the desktop; ``0`` is the whole desktop."""
        with self._lock:
            grabber = self._require_open()
            monitors = self._monitors_locked()
            rect = self._resolve(monitor, monitors)
            from mss.exception import ScreenShotError

            region = {
                "left": rect.left,
                "top": rect.top,
                "width": rect.width,
                "height": rect.height,
            }
            try:
                shot = grabber.grab(region)
            except ScreenShotError as exc:
                raise CaptureError(
                    f"screenshot of {rect} failed: {exc}; if the resolution changed, "
                    "call Screen.refresh()",
                    display=self.display,
                    rect=rect,
                ) from exc
        # the grab is a fresh bytearray, so the view stays valid after the next grab
        pixels = np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)
        pixels.flags.writeable = False
        return Frame(pixels, rect)

    @staticmethod
    def _resolve(monitor: int | Monitor | Rect, monitors: list[Monitor]) -> Rect:
        desktop = monitors[0].rect
        if isinstance(monitor, Monitor):
            rect = monitor.rect
        elif isinstance(monitor, Rect):
            if monitor.space is not Space.SCREEN:
                raise CaptureError(f"grab takes a screen-space rect, got a {monitor.space} one")
            rect = monitor
        elif isinstance(monitor, int) and not isinstance(monitor, bool):
            if not 0 <= monitor < len(monitors):
                raise CaptureError(
                    f"there is no monitor {monitor}: this desktop has monitors 1 to "
                    f"{len(monitors) - 1}, and 0 is the whole desktop",
                    index=monitor,
                    count=len(monitors) - 1,
                )
            return monitors[monitor].rect
        else:
            raise CaptureError(f"grab takes a monitor index, Monitor or Rect, got {monitor!r}")
        if not desktop.contains_rect(rect):
            raise CaptureError(
                f"{rect} is not inside the desktop {desktop}", rect=rect, desktop=desktop
            )
        return rect

    # -- pointer ------------------------------------------------------------------------

    def cursor_position(self) -> Point:
        """Where the mouse pointer is, in screen space (unpacks as ``x, y``). X11 only."""
        with self._lock:
            self._require_open()
            xlib = self._xlib_locked()
            from Xlib import error as xerror

            try:
                reply = xlib.screen().root.query_pointer()
            except (xerror.XError, xerror.ConnectionClosedError, OSError) as exc:
                raise CaptureError(
                    f"cannot read the pointer position: {exc!r}", display=self.display
                ) from exc
            return Point(reply.root_x, reply.root_y, Space.SCREEN)

    def _xlib_locked(self) -> Any:
        if self._xlib is not None:
            return self._xlib
        if not sys.platform.startswith("linux"):
            raise CaptureError(
                f"the pointer position is only read on X11 so far, not on {sys.platform}",
                platform=sys.platform,
            )
        try:
            from Xlib import display as xdisplay
            from Xlib import error as xerror
        except ImportError as exc:
            raise CaptureError("python-xlib is not installed: pip install python-xlib") from exc
        try:
            self._xlib = xdisplay.Display(self.display)
        except (xerror.DisplayError, xerror.XError, OSError) as exc:
            raise CaptureError(
                f"cannot connect to the X display {self.display or '$DISPLAY'}: {exc}; "
                "the pointer position needs an X11 session",
                display=self.display,
            ) from exc
        return self._xlib


@dataclass(frozen=True, slots=True)
class _RandrMonitor:
    mm: tuple[int, int]
    name: str


def _scale_factor(width: int, height: int, mm: tuple[int, int] | None) -> float:
    """DPI / 96, to the nearest quarter; 1.0 when the physical size is unknown or absurd."""
    if mm is None:
        return 1.0
    dpis = [px * 25.4 / size for px, size in zip((width, height), mm, strict=True) if size > 0]
    if not dpis:
        return 1.0
    factor = round(sum(dpis) / len(dpis) / 96 * 4) / 4
    return factor if 0.5 <= factor <= 4.0 else 1.0


# --- memory ---------------------------------------------------------------------------------

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
FRAME_MMAP_THRESHOLD = 64 * 1024 * 1024  # buffers below this come from the heap
FRAME_TRIM_THRESHOLD = 256 * 1024 * 1024  # free heap top kept up to this (no trim per free)
_tuned = False


def keep_frame_buffers() -> bool:
    """Let glibc reuse frame-sized buffers instead of mapping fresh pages each grab; True
    if the thresholds are set (once per process; False where the C library is not glibc).

    mss returns each grab in a new 8 MB buffer (1920x1080 BGRA). Above glibc's mmap
    threshold every such buffer is mapped on allocation and unmapped on free, so each
    grab page-faults 2,000 fresh pages and the resize reads cold memory: measured
    5.5 ms grab + 9.5 ms resize/encode, against 2.1 + 4.4 ms once the buffers come from
    the heap and stay there (bench/screenshot.py). The same holds for what a screenshot's
    answer copies (its base64, its JSON, the write buffer: 367 kB each for a real screen):
    0.06 ms from the heap, 0.7 ms in fresh mappings. The cost is a few frames' worth of
    memory kept by the process; ``serve`` and ``record`` give free pages back once a minute
    (daemon/cli/memory.py). Setting a threshold also stops glibc from moving it.
    """
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # musl and friends: nothing to tune
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mapped = mallopt(_M_MMAP_THRESHOLD, FRAME_MMAP_THRESHOLD) == 1
    trimmed = mallopt(_M_TRIM_THRESHOLD, FRAME_TRIM_THRESHOLD) == 1
    _tuned = bool(mapped and trimmed)
    return _tuned


# --- encoding ------------------------------------------------------------------------------


def _png_params() -> list[int]:
    params = [
        cv2.IMWRITE_PNG_COMPRESSION,
        1,
        cv2.IMWRITE_PNG_STRATEGY,
        cv2.IMWRITE_PNG_STRATEGY_RLE,
    ]
    png_filter = getattr(cv2, "IMWRITE_PNG_FILTER", None)  # OpenCV >= 4.11
    if png_filter is not None:
        params += [png_filter, cv2.IMWRITE_PNG_FILTER_SUB]
    return params


_PNG_PARAMS: Final = _png_params()

try:  # the fast PNG writer; every major platform has a wheel, but stay correct without it
    import fpng as _fpng
except ImportError:  # pragma: no cover - exercised where fpng has no wheel
    _fpng = None


def _interpolation(src: tuple[int, int], dst: tuple[int, int]) -> int:
    if dst[0] * 2 < src[0] or dst[1] * 2 < src[1]:
        return cv2.INTER_AREA  # beyond 2x down, LINEAR skips pixels: see the module doc
    return cv2.INTER_LINEAR


def encode(
    frame: Frame,
    size: tuple[int, int] | None = None,
    fmt: ImageFormat = "png",
    quality: int | None = None,
) -> bytes:
    """The frame as image file bytes, resized to ``size`` (``(width, height)``) if given.

    One resize and one encode. ``fmt`` is ``"png"`` (zlib level 1), ``"jpeg"`` (quality
    85 by default) or ``"webp"`` (80); ``quality`` (1-100) applies to the lossy formats
    and is ignored for PNG. The padding byte is dropped: the image is 3-channel.
    """
    if fmt not in _EXTENSIONS:
        raise CaptureError(f"image format must be png, jpeg or webp, not {fmt!r}", fmt=fmt)
    src = (frame.width, frame.height)
    if size is not None:
        w, h = size
        if (
            isinstance(w, bool)
            or isinstance(h, bool)
            or not (isinstance(w, int) and isinstance(h, int))
        ):
            raise CaptureError(f"size must be (width, height) in whole pixels, got {size!r}")
        if w <= 0 or h <= 0:
            raise CaptureError(f"size must be positive, got {w}x{h}", size=size)
    if fmt == "png":
        params = _PNG_PARAMS
    else:
        q = _DEFAULT_QUALITY[fmt] if quality is None else quality
        if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 100:
            raise CaptureError(f"quality must be an integer from 1 to 100, got {quality!r}")
        flag = cv2.IMWRITE_JPEG_QUALITY if fmt == "jpeg" else cv2.IMWRITE_WEBP_QUALITY
        params = [flag, q]
    try:
        image: npt.NDArray[Any] = frame.pixels
        if size is not None and tuple(size) != src:
            dst = (size[0], size[1])
            if dst[0] * dst[1] > src[0] * src[1]:
                # upscaling: drop the padding byte first, on the smaller image
                image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
            image = cv2.resize(image, dst, interpolation=_interpolation(src, dst))
        if fmt == "png" and _fpng is not None:
            # one conversion, straight to the RGB fpng writes (its from_cv2 would add one)
            code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
            return bytes(_fpng.from_ndarray(cv2.cvtColor(image, code)))
        if image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        ok, buf = cv2.imencode(_EXTENSIONS[fmt], image, params)
    except cv2.error as exc:
        raise CaptureError(f"encoding a {src[0]}x{src[1]} frame as {fmt} failed: {exc}") from exc
    if not ok:
        raise CaptureError(f"OpenCV could not encode a {src[0]}x{src[1]} frame as {fmt}")
    return buf.tobytes()
