"""Which top-level windows of one application (by WM_CLASS) are on the screen now.

The X server is the only party that knows for certain whether a window still covers
the screen: an application's own "I hid it" arrives later than the unmap, or never
(it crashed, it runs elsewhere). So a :class:`WindowWatch` asks the server: it selects
``SubstructureNotify`` on the root window, which reports every map, unmap, reparent and
destroy of a top-level window (or of the frame a window manager wraps it in), and keeps
the set of mapped top-levels whose WM_CLASS class (on the window itself or, under a
reparenting window manager, on a child of its frame) is the one asked for.

No polling: one thread sleeps in ``select`` on the watch connection and wakes
:meth:`WindowWatch.wait_none` through a condition. Queries from other threads (the
input focus) go through a second connection under a lock, because python-xlib
connections are not thread-safe.

A window another client mapped a moment ago is known to the server at once, but to the
watch only once its thread has read the MapNotify. :meth:`WindowWatch.settle` closes
that gap: the thread makes a round trip on the watch connection (the server sends a
connection's events and replies in order, so every event of what it did before is read
by then) and handles what came, before the caller goes on.
"""

from __future__ import annotations

import os
import select
import threading
from types import TracebackType
from typing import Any, Self

from Xlib import X, display, error

from capture.errors import CaptureError

__all__ = ["WindowWatch"]

_GONE = (error.XError, error.ConnectionClosedError, OSError)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


class WindowWatch:
    """The mapped top-level windows of WM_CLASS class ``wm_class`` on one display."""

    def __init__(self, display_name: str | None, wm_class: str) -> None:
        self.wm_class = wm_class
        try:
            self._watch = display.Display(display_name)
            self._query = display.Display(display_name)
        except (error.DisplayError, error.ConnectionClosedError, OSError) as exc:
            raise CaptureError(
                f"cannot open X display {display_name or '$DISPLAY'}: {exc}"
            ) from exc
        self._cond = threading.Condition()
        self._query_lock = threading.Lock()
        self._ours: dict[int, bool] = {}  # top-level id -> is one of ours (cached per window)
        self._ours_lock = threading.Lock()
        self._mapped: set[int] = set()  # top-levels of ours that are mapped now
        self.maps = 0  # how many times one of ours was mapped (each may have taken the focus)
        self._stop_r, self._stop_w = os.pipe()
        self._settle_r, self._settle_w = os.pipe()
        for fd in (self._settle_r, self._settle_w):
            os.set_blocking(fd, False)
        self._asked = 0  # settle tickets handed out, and the last one the thread has served
        self._served = 0
        root = self._watch.screen().root
        # select first, then list: a window mapped in between shows up in both, never in neither
        root.change_attributes(event_mask=X.SubstructureNotifyMask)
        self._watch.sync()
        for child in root.query_tree().children:
            try:
                if child.get_attributes().map_state != X.IsUnmapped and self._is_ours(child):
                    self._mapped.add(child.id)
            except _GONE:
                continue
        self._thread = threading.Thread(
            target=self._run, name="driverseat-window-watch", daemon=True
        )
        self._thread.start()

    # -- any thread --------------------------------------------------------------------
    def mapped(self) -> frozenset[int]:
        """The ids of the mapped top-levels (or window-manager frames) of the class."""
        with self._cond:
            return frozenset(self._mapped)

    def wait_none(self, timeout: float) -> bool:
        """Wait until none is mapped; False if one still is after ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._mapped or self._closed, timeout)

    def settle(self, timeout: float = 1.0) -> bool:
        """Block until the watch has handled every event of what the server did before
        this call (one round trip through the watch thread): a window mapped by then is
        in :meth:`mapped`. False on timeout or once the watch has stopped."""
        with self._cond:  # close() closes the pipe under it too: never a write to a reused fd
            if self._closed:
                return False
            self._asked += 1
            ticket = self._asked
            try:
                os.write(self._settle_w, b"s")
            except BlockingIOError:
                pass  # the pipe is full of earlier asks: the thread is woken already
            return self._cond.wait_for(lambda: self._served >= ticket or self._closed, timeout) and (
                self._served >= ticket
            )

    def focus(self) -> int:
        """The window that has the keyboard focus: an id, or X.NONE (0) / PointerRoot (1)."""
        with self._query_lock:
            try:
                focus = self._query.get_input_focus().focus
            except _GONE:
                return int(X.NONE)
        return int(focus) if isinstance(focus, int) else int(focus.id)

    def is_root(self, window: int) -> bool:
        return bool(window == self._query.screen().root.id)

    def is_ours(self, window: int) -> bool:
        """Whether top-level ``window`` is one of ours, asked now on the query connection
        (cached per window): for a window whose MapNotify the watch thread may not have
        handled yet (two connections, two threads: the order between them is not kept)."""
        with self._ours_lock:
            known = self._ours.get(window)
        if known is not None:
            return known
        with self._query_lock:
            try:
                known = self._classify(self._query.create_resource_object("window", window))
            except _GONE:
                return False
        with self._ours_lock:
            self._ours[window] = known
        return known

    def has_class(self, window: int) -> bool:
        """Whether ``window`` itself carries the class (a client window, not a frame)."""
        with self._query_lock:
            try:
                return self._has_class(self._query.create_resource_object("window", window))
            except _GONE:
                return False

    def give_focus(self, window: int) -> bool:
        """Focus ``window`` if it is still viewable (it may have gone meanwhile)."""
        with self._query_lock:
            try:
                w = self._query.create_resource_object("window", window)
                if w.get_attributes().map_state != X.IsViewable:
                    return False
                w.set_input_focus(X.RevertToParent, X.CurrentTime)
                self._query.sync()
            except _GONE:
                return False
        return True

    # -- the watch thread ----------------------------------------------------------------
    _closed = False

    def _run(self) -> None:
        fd = self._watch.fileno()
        try:
            while True:
                ready, _, _ = select.select([fd, self._stop_r, self._settle_r], [], [])
                if self._stop_r in ready:
                    return
                ticket = None
                if self._settle_r in ready:
                    _drain(self._settle_r)
                    with self._cond:
                        ticket = self._asked  # every ticket asked for by now is served below
                    self._watch.sync()  # the reply comes after every event sent before it
                while self._watch.pending_events():
                    self._handle(self._watch.next_event())
                if ticket is not None:
                    with self._cond:
                        self._served = ticket
                        self._cond.notify_all()
        except _GONE:
            pass  # the server went away: nothing of ours can be on it any more
        finally:
            with self._cond:
                self._mapped.clear()
                self._closed = True
                self._cond.notify_all()

    def _handle(self, ev: Any) -> None:
        root = self._watch.screen().root
        if ev.type == X.MapNotify and ev.event == root:
            if self._is_ours(ev.window):
                with self._cond:
                    self._mapped.add(ev.window.id)
                    self.maps += 1
        elif ev.type in (X.UnmapNotify, X.DestroyNotify) and ev.event == root:
            with self._cond:
                self._mapped.discard(ev.window.id)
                self._cond.notify_all()
            if ev.type == X.DestroyNotify:
                with self._ours_lock:
                    self._ours.pop(ev.window.id, None)
        elif ev.type == X.ReparentNotify and ev.event == root:
            # a window manager framed a window (or let one go): classify the frame again
            with self._ours_lock:
                self._ours.pop(ev.parent.id, None)
                self._ours.pop(ev.window.id, None)

    def _is_ours(self, window: Any) -> bool:
        with self._ours_lock:
            known = self._ours.get(window.id)
        if known is None:
            known = self._classify(window)
            with self._ours_lock:
                self._ours[window.id] = known
        return known

    def _classify(self, window: Any) -> bool:
        try:
            if self._has_class(window):
                return True
            return any(self._has_class(c) for c in window.query_tree().children)
        except _GONE:
            return False

    def _has_class(self, window: Any) -> bool:
        cls = window.get_wm_class()
        return cls is not None and cls[1] == self.wm_class

    # -- teardown ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the thread and close both connections. Idempotent."""
        if self._thread is None:
            return
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        self._thread = None  # type: ignore[assignment]
        with self._cond:
            self._closed = True  # (the thread says so too; not if it did not stop in time)
            for fd in (self._stop_r, self._stop_w, self._settle_r, self._settle_w):
                os.close(fd)
        for d in (self._watch, self._query):
            try:
                d.close()
            except _GONE:
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
