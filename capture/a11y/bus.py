"""The buses a desktop session starts, for a display that has none (a virtual one).

A desktop session starts a session D-Bus and, through it, the accessibility bus; without
them applications expose nothing and the lookups answer "no element". When driverseat
starts the virtual display itself (``make run`` on a headless machine) it starts them too:
``dbus-daemon --session``, then ``at-spi-bus-launcher --launch-immediately``, which starts
the accessibility bus and sets the display's ``AT_SPI_BUS`` root property, where GTK, Qt
and libatspi find it (applications started later on the display need nothing else).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from Xlib import display as xdisplay

from capture.a11y._atspi import _x_root_property
from capture.closing import Closing, die_with_parent, end_process

__all__ = ["LAUNCHER", "SessionBuses"]

LAUNCHER = "/usr/libexec/at-spi-bus-launcher"


class SessionBuses(Closing):
    """A session D-Bus and the accessibility bus for ``display``; ``address`` is the
    session bus (None when they could not be started: ``why`` says why)."""

    def __init__(self, display: str, timeout: float = 10.0) -> None:
        self.display = display
        self.address: str | None = None
        self.why = ""
        self._procs: list[subprocess.Popen[str]] = []
        if shutil.which("dbus-daemon") is None or not os.access(LAUNCHER, os.X_OK):
            self.why = "no dbus-daemon or at-spi-bus-launcher (Debian dbus, at-spi2-core)"
            return
        session = subprocess.Popen(
            die_with_parent(["dbus-daemon", "--session", "--nofork", "--print-address=1"]),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )  # fmt: skip
        self._procs.append(session)
        assert session.stdout is not None
        address = session.stdout.readline().strip()
        if not address:
            self.close()
            self.why = "dbus-daemon did not start"
            return
        env = dict(os.environ, DISPLAY=display, DBUS_SESSION_BUS_ADDRESS=address)
        self._procs.append(subprocess.Popen(
            die_with_parent([LAUNCHER, "--launch-immediately"]), env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        ))  # fmt: skip
        deadline = time.monotonic() + timeout
        while _x_root_property(display) is None:
            if time.monotonic() > deadline:
                self.close()
                self.why = "the accessibility bus did not come up"
                return
            time.sleep(0.05)  # the launcher sets the root property once its bus is up
        self.address = address

    def close(self) -> None:
        for proc in reversed(self._procs):
            end_process(proc)
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs.clear()
        if self.address is None:
            return
        self.address = None
        try:  # a stale AT_SPI_BUS would send the display's next applications to a dead bus
            d = xdisplay.Display(self.display)
        except Exception:  # noqa: BLE001 - the display may be gone first (it is ours too)
            return
        try:
            atom = d.intern_atom("AT_SPI_BUS", only_if_exists=True)
            if atom:
                d.screen().root.delete_property(atom)
                d.sync()
        finally:
            d.close()
