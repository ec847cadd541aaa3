"""An AT-SPI accessibility bus on the suite's Xvfb, and real GTK windows (zenity) on it.

The bus is what a desktop session starts: a session D-Bus, then at-spi-bus-launcher,
which starts the accessibility bus, sets the display's ``AT_SPI_BUS`` root property
(where libatspi and GTK find it) and has the registry activated on it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable

from Xlib import X
from Xlib import display as xdisplay

from capture.a11y import A11y, Element
from capture.a11y._atspi import Atspi, AtspiError
from capture.a11y.bus import LAUNCHER, SessionBuses
from tests.daemon.live import poll

DEBIAN_PACKAGES = "dbus, at-spi2-core, zenity (run `make deps`, which installs them)"


def missing_tools() -> list[str]:
    tools = {"dbus-daemon": shutil.which("dbus-daemon"), LAUNCHER: os.access(LAUNCHER, os.X_OK),
             "zenity": shutil.which("zenity")}  # fmt: skip
    return [name for name, found in tools.items() if not found]


class AccessibilityBus:
    """The product's own session buses (:class:`capture.a11y.bus.SessionBuses`, what `serve`
    starts on its virtual display) for display ``display``, once the registry answers on
    the accessibility bus; ``address`` is that bus, ``env`` what a GTK application needs."""

    def __init__(self, display: str) -> None:
        self.display = display
        self._buses = SessionBuses(display, timeout=15)
        if self._buses.address is None:
            raise RuntimeError(f"the session buses did not start: {self._buses.why}")
        self.session_address = self._buses.address
        self.env = dict(os.environ, DISPLAY=display, DBUS_SESSION_BUS_ADDRESS=self.session_address,
                        NO_AT_BRIDGE="0")  # fmt: skip
        self.address = ""
        if not poll(self._up, timeout=15):
            self.close()
            raise RuntimeError("the accessibility bus's registry did not answer")
        self.env["AT_SPI_BUS_ADDRESS"] = self.address

    def _up(self) -> bool:
        from capture.a11y._atspi import _x_root_property

        address = _x_root_property(self.display)
        if not address:
            return False
        try:
            bus = Atspi(address, call_timeout=1.0)
        except AtspiError:
            return False
        try:
            bus.children(("org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root"))
        except AtspiError:
            return False
        finally:
            bus.close()
        self.address = address
        return True

    def connect(self, timeout: float) -> Atspi:
        """What :class:`A11y` calls to reach this bus."""
        return Atspi(self.address, call_timeout=timeout)

    def lookup(self, timeout: float = 0.5) -> A11y:
        return A11y(timeout=timeout, connect=self.connect)

    def close(self) -> None:
        self._buses.close()  # and the display's stale AT_SPI_BUS property with them


class App:
    """A real application in its own process, on the accessibility bus; ``close()`` ends it."""

    def __init__(self, bus: AccessibilityBus, argv: list[str], **env: str) -> None:
        self.proc = subprocess.Popen(
            argv, env={**bus.env, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        )  # fmt: skip
        self.bus = bus

    def wait_for(self, a11y: A11y, find: Callable[[A11y], Element | None], timeout: float = 15) -> Element:
        """Poll until ``find`` answers an element of this process (the window is up)."""
        found: list[Element] = []

        focused = False

        def ready() -> bool:
            nonlocal focused
            # no window manager here: give the dialog the keyboard focus as one would
            focused = focused or self._focus_window()
            el = find(a11y) if focused else None
            if el is not None and el.pid == self.proc.pid:
                found.append(el)
                return True
            return self.proc.poll() is not None

        if not poll(ready, timeout=timeout) or not found:
            raise AssertionError(f"{self.proc.args!r} did not show up on the accessibility bus")
        return found[0]

    def _focus_window(self) -> bool:
        """Give this process's mapped top-level window the X input focus, if it has one."""
        d = xdisplay.Display(self.bus.display)
        try:
            pid_atom = d.intern_atom("_NET_WM_PID")
            for win in d.screen().root.query_tree().children:
                prop = win.get_full_property(pid_atom, X.AnyPropertyType)
                if prop is None or int(prop.value[0]) != self.proc.pid:
                    continue
                if win.get_attributes().map_state != X.IsViewable:
                    continue
                win.set_input_focus(X.RevertToParent, X.CurrentTime)
                d.sync()
                return True
            return False
        finally:
            d.close()

    def pause(self) -> None:
        """Stop the process (a hung application: its bus name stays, nothing answers)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class Zenity(App):
    """A zenity dialog (GTK 3): ``Zenity(bus, "--question", "--title", ...)``."""

    def __init__(self, bus: AccessibilityBus, *args: str) -> None:
        super().__init__(bus, ["zenity", *args])


class QtWindow(App):
    """``tests/x11/qt_a11y_window.py``: a Qt 6 window with a label, a button and a password
    field; Qt puts it on the bus when told to (QT_LINUX_ACCESSIBILITY_ALWAYS_ON)."""

    def __init__(self, bus: AccessibilityBus) -> None:
        super().__init__(bus, [sys.executable, "-m", "tests.x11.qt_a11y_window"],
                         QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1", QT_QPA_PLATFORM="xcb")  # fmt: skip
