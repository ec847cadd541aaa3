"""A simulated human for tests: a second master device driven through its own XTEST slave.

``xinput create-master human`` adds "human pointer"/"human keyboard" with their own
XTEST slaves. A connection that makes "human pointer" its ClientPointer
(XISetClientPointer) and then calls XTestFakeInput produces events whose XI2
``sourceid`` is the human's XTEST slave, not the core XTEST slave the daemon injects
through. To the daemon this looks like a foreign injector (treated as human); the
physical-device path is the same code with a different classification label.
"""

from __future__ import annotations

import subprocess
import time

from Xlib import XK, X, display
from Xlib.ext import xinput, xtest
from Xlib.protocol import rq

MASTER = "human"


class _XISetClientPointer(rq.Request):
    _request = rq.Struct(
        rq.Card8("opcode"),
        rq.Opcode(44),
        rq.RequestLength(),
        rq.Window("window"),
        rq.Card16("deviceid"),
        rq.Pad(2),
    )


def device_ids(d: display.Display) -> dict[str, int]:
    """Every XI2 device's name -> id."""
    info = d.xinput_query_device(xinput.AllDevices)
    return {dev.name: dev.deviceid for dev in info.devices}


def ensure_master(display_name: str, name: str = MASTER) -> None:
    d = display.Display(display_name)
    try:
        if f"{name} pointer" not in device_ids(d):
            subprocess.run(
                ["xinput", "create-master", name],
                check=True,
                env={"DISPLAY": display_name, "PATH": "/usr/bin:/bin"},
            )
    finally:
        d.close()


class SimulatedHuman:
    """Mouse and keyboard of a person, as far as the X server can tell."""

    def __init__(self, display_name: str, name: str = MASTER) -> None:
        ensure_master(display_name, name)
        self.d = display.Display(display_name)
        ids = device_ids(self.d)
        self.pointer_id = ids[f"{name} pointer"]
        self.xtest_ids = {ids[f"{name} XTEST pointer"], ids[f"{name} XTEST keyboard"]}
        _XISetClientPointer(
            display=self.d.display,
            opcode=self.d.display.get_extension_major(xinput.extname),
            window=X.NONE,
            deviceid=self.pointer_id,
        )
        self.d.sync()

    def close(self) -> None:
        self.d.close()

    def _send(self, ev_type: int, detail: int = 0, x: int = 0, y: int = 0) -> float:
        if ev_type == X.MotionNotify:
            xtest.fake_input(self.d, ev_type, x=x, y=y)
        else:
            xtest.fake_input(self.d, ev_type, detail)
        self.d.sync()
        return time.perf_counter()

    def move(self, x: int, y: int) -> float:
        return self._send(X.MotionNotify, x=x, y=y)

    def press(self, button: int = 1) -> float:
        return self._send(X.ButtonPress, button)

    def release(self, button: int = 1) -> float:
        return self._send(X.ButtonRelease, button)

    def click(self, x: int, y: int, button: int = 1) -> float:
        """Move there and click; returns perf_counter() right after the press was synced."""
        self.move(x, y)
        t = self.press(button)
        self.release(button)
        return t

    def keycode(self, name: str) -> int:
        return int(self.d.keysym_to_keycode(XK.string_to_keysym(name)))

    def tap(self, name: str) -> float:
        code = self.keycode(name)
        t = self._send(X.KeyPress, code)
        self._send(X.KeyRelease, code)
        return t

    def key_down(self, name: str) -> float:
        return self._send(X.KeyPress, self.keycode(name))

    def key_up(self, name: str) -> float:
        return self._send(X.KeyRelease, self.keycode(name))

    def combo(self, *names: str) -> None:
        for n in names:
            self.key_down(n)
        for n in reversed(names):
            self.key_up(n)
