"""The title of the active window, read through EWMH on X11.

The policy may match on the active window's title ("typing into a terminal"). Window
managers that follow EWMH publish the active window as ``_NET_ACTIVE_WINDOW`` on the
root window; its title is ``_NET_WM_NAME`` (UTF-8), or the older ``WM_NAME`` for
clients that set only that. Without a window manager (a bare Xvfb) nobody sets
``_NET_ACTIVE_WINDOW``: the answer is then None, never an error, because "no title"
is a normal state of a desktop, not a failure of it.
"""

from __future__ import annotations

import threading

from Xlib import X, Xatom, display, error

from capture.closing import Closing
from capture.errors import CaptureError

__all__ = ["WindowTitles", "active_window_title"]

# Errors that mean "this window or property went away under us": windows close
# between two requests all the time, so these read as "no title", not as failures.
_GONE = (error.XError, error.ConnectionClosedError, OSError)


class WindowTitles(Closing):
    """One X connection that answers "what is the active window called?" repeatedly.

    Opening a display costs milliseconds; the daemon asks before every action, so it
    keeps one of these open. Safe to call from several threads (one lock).

    >>> with WindowTitles(":1") as titles:  # doctest: +SKIP
    ...     titles.active()
    'Terminal — bash'
    """

    def __init__(self, display_name: str | None = None) -> None:
        try:
            self._display = display.Display(display_name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            raise CaptureError(
                f"cannot open X display {display_name or '$DISPLAY'}: {exc}",
                display=display_name,
            ) from exc
        self._root = self._display.screen().root
        self._lock = threading.Lock()
        self._net_active = self._display.intern_atom("_NET_ACTIVE_WINDOW")
        self._net_wm_name = self._display.intern_atom("_NET_WM_NAME")
        self._utf8 = self._display.intern_atom("UTF8_STRING")
        self._closed = False

    def active(self) -> str | None:
        """The active window's title, or None if no window manager names one."""
        with self._lock:
            if self._closed:
                raise CaptureError("WindowTitles is closed")
            try:
                return self._read()
            except _GONE:
                return None

    def _read(self) -> str | None:
        prop = self._root.get_full_property(self._net_active, Xatom.WINDOW)
        if prop is None or len(prop.value) == 0 or int(prop.value[0]) == X.NONE:
            return None
        win = self._display.create_resource_object("window", int(prop.value[0]))
        name = win.get_full_property(self._net_wm_name, self._utf8)
        if name is not None and len(name.value) > 0:
            return _decode(name.value, "utf-8")
        name = win.get_full_property(Xatom.WM_NAME, X.AnyPropertyType)
        if name is not None and len(name.value) > 0:
            # ICCCM: WM_NAME of type STRING is Latin-1; some clients put UTF8_STRING there.
            return _decode(name.value, "utf-8" if name.property_type == self._utf8 else "latin-1")
        return None

    def close(self) -> None:
        """Close the connection; later calls to :meth:`active` raise CaptureError."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._display.close()


def active_window_title(display: str | None = None) -> str | None:
    """The active window's title on ``display`` (default ``$DISPLAY``), or None.

    Opens and closes a connection: for repeated calls keep a :class:`WindowTitles`.
    Raises CaptureError only when the display cannot be opened.
    """
    with WindowTitles(display) as titles:
        return titles.active()


def _decode(value: bytes | str, encoding: str) -> str:
    text = value if isinstance(value, str) else bytes(value).decode(encoding, errors="replace")
    # Some clients include the C string's terminating NUL in the property.
    return text.rstrip("\x00")
