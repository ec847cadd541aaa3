"""Lookups that never make their caller wait on D-Bus longer than a bounded timeout.

Every question goes to one worker thread that owns the connection to the accessibility
bus; the caller waits at most ``timeout`` for the answer and otherwise gets None ("no
element"). While the worker is still busy with an earlier question (a hung application
or bus), new questions are answered None at once instead of queueing behind it, so a
hung bus costs each caller nothing more than the check. A missing or hung bus is said
once in the log, and once again when it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from capture.a11y._atspi import Atspi, AtspiError, BusGone
from capture.a11y._element import Element
from capture.closing import Closing

log = logging.getLogger("capture.a11y")
T = TypeVar("T")

DEFAULT_TIMEOUT = 0.08  # s: a lookup takes a few ms on a busy GTK app (docs/a11y.md)
RECONNECT_AFTER = 2.0  # s between attempts to reach a bus that was not there


class _Job:
    __slots__ = ("done", "fn", "result")

    def __init__(self, fn: Callable[[Atspi], object]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: object = None


class A11y(Closing):
    """The element at a point, the focused element, from the AT-SPI accessibility bus.

    Each method returns within about ``timeout`` seconds whatever the bus does, and
    answers None (or False) when it cannot tell: no bus, no application there, an
    application that exposes nothing, or no answer in time. ``ignore_pids`` are
    processes whose windows are never reported, and with ``ignore_children`` neither are
    those of our own child processes: the daemon's overlay, drawn over the whole screen
    while a person answers a review, is its child (and is on the bus when Qt's
    accessibility is on).

    ``connect`` makes the connection (tests inject a bus address this way); by default
    the session's accessibility bus is found as libatspi finds it.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ignore_pids: frozenset[int] = frozenset(),
        ignore_children: bool = False,
        connect: Callable[[float], Atspi] | None = None,
        display: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.ignore_pids = ignore_pids
        self.ignore_children = ignore_children
        self._connect = connect or (lambda t: Atspi.discover(call_timeout=t, display=display))
        self._bus: Atspi | None = None
        self._down_since: float | None = None  # when the bus was last found missing
        self._said_down = False
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._job: _Job | None = None
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="a11y-lookup", daemon=True)
        self._thread.start()

    # -- the questions ---------------------------------------------------------------------
    def element_at(self, x: int, y: int) -> Element | None:
        """The deepest accessible under screen point (x, y), with its parents up to its window."""

        def ask(bus: Atspi) -> Element | None:
            path = bus.deepest_at(x, y, self.ignore_pids)
            return bus.element(path[-1], path[:-1]) if path else None

        return self._ask(ask)

    def focused(self) -> Element | None:
        """The element with the keyboard focus (in the active window), if any."""

        def ask(bus: Atspi) -> Element | None:
            ref = bus.focused(self.ignore_pids)
            return None if ref is None else bus.element(ref)

        return self._ask(ask)

    def password_focused(self) -> bool:
        """Whether the keyboard focus is in a password field (its keys must not be recorded).

        False also when it cannot tell: a caller that must not record a password on a
        desktop without accessibility has to decide that itself.
        """
        el = self.focused()
        return el is not None and el.password

    # -- the worker ------------------------------------------------------------------------
    def _ask(self, fn: Callable[[Atspi], T | None]) -> T | None:
        job = _Job(fn)
        with self._lock:
            if self._closed or self._busy:
                return None  # still stuck on an earlier question: don't queue behind it
            self._busy = True
            self._job = job
            self._wake.notify()
        if not job.done.wait(self.timeout):
            self._say_down(f"no answer within {self.timeout * 1000:.0f} ms")
            return None
        return job.result  # type: ignore[return-value]  # fn's own result, or None

    def _work(self) -> None:
        while True:
            with self._lock:
                while self._job is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job, self._job = self._job, None
            assert job is not None
            try:
                job.result = self._run(job.fn)
            finally:
                with self._lock:
                    self._busy = False
                job.done.set()

    def _run(self, fn: Callable[[Atspi], object]) -> object:
        bus = self._bus
        if bus is None:
            if self._down_since is not None and time.monotonic() - self._down_since < RECONNECT_AFTER:
                return None
            try:
                # the per-call timeout is the caller's: a later answer is of no use to anyone
                bus = self._bus = self._connect(self.timeout)
                bus.ignore_children = self.ignore_children
            except AtspiError as exc:
                self._down_since = time.monotonic()
                self._say_down(str(exc))
                return None
        try:
            result = fn(bus)
        except BusGone as exc:
            self._drop(bus)
            self._say_down(str(exc))
            return None
        except AtspiError as exc:  # an application (or the bus) let a call time out
            self._say_down(str(exc))
            return None
        if self._said_down:
            self._said_down = False
            log.info("accessibility bus answers again: elements are named from it")
        self._down_since = None
        return result

    def _drop(self, bus: Atspi) -> None:
        self._bus = None
        self._down_since = time.monotonic()
        bus.close()

    def _say_down(self, why: str) -> None:
        if not self._said_down:
            self._said_down = True
            log.warning("accessibility lookups answer 'no element' (%s); elements are "
                        "located from pixels until the bus answers again", why)  # fmt: skip

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        # a worker stuck in a call ends with its call's timeout; it is a daemon thread anyway
        self._thread.join(timeout=self.timeout * 4)
        bus = self._bus
        if bus is not None and not self._thread.is_alive():
            self._bus = None
            bus.close()
