"""The hold guard on a real Xvfb: a process holding keys through XorgBackend dies by
SIGKILL, and the guard lets go of exactly what it held; a person's key stays down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from Xlib import XK, display

from tests.daemon.live import StderrLines, poll
from tests.x11.held import buttons, ended, key_down, keys_down, nothing_held
from tests.x11.human import SimulatedHuman

pytestmark = pytest.mark.x11

# A stand-in for the daemon: the X11 backend with the guard watching, as `serve` wires
# it; it presses what it is told (key codes, then "b<button>"), says so, and waits to die.
HOLDER = r"""
import sys, time
from capture.input import Kind, Primitive
from capture.input._xorg import XorgBackend
from capture.input.guard import GuardLink
b = XorgBackend(sys.argv[1])
link = GuardLink.spawn(sys.argv[1])
link.wait_ready()
b.watch = link
for arg in sys.argv[2:]:
    if arg == "goodbye":
        b.release_all(); link.close()
    elif arg.startswith("b"):
        b.send(Primitive(Kind.BUTTON_DOWN, int(arg[1:])))
    else:
        b.send(Primitive(Kind.KEY_DOWN, int(arg)))
b._inj.sync()
print(f"holding guard={link.pid}", file=sys.stderr, flush=True)
time.sleep(120)
"""


class Holder:
    def __init__(self, xserver: str, *args: str) -> None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, xserver, *args], stderr=subprocess.PIPE, text=True,
            cwd=root, env=dict(os.environ, PYTHONPATH=root),
        )  # fmt: skip
        self.out = StderrLines(self.proc)
        self.guard_pid = int(self.out.wait_line(r"holding guard=(\d+)", 20).group(1))

    def kill(self) -> float:
        """SIGKILL; returns perf_counter() just before the signal."""
        t = time.perf_counter()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        return t

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self.out.close()


@pytest.fixture
def core(xserver: str) -> Iterator[display.Display]:
    """A plain client: its XQueryKeymap and XQueryPointer read the core devices."""
    d = display.Display(xserver)
    yield d
    d.close()


def test_sigkill_releases_what_the_process_held(xserver: str, core: display.Display) -> None:
    shift = core.keysym_to_keycode(XK.XK_Shift_L)
    ctrl = core.keysym_to_keycode(XK.XK_Control_L)
    holder = Holder(xserver, str(shift), str(ctrl), "b1")
    try:
        assert key_down(core, shift) and key_down(core, ctrl) and buttons(core) == 0x100
        t0 = holder.kill()
        assert poll(lambda: nothing_held(core), timeout=2, every=0.001), (
            f"still held after SIGKILL: keys {keys_down(core)}, buttons {buttons(core):#x}"
        )
        print(f"\nreleased {1e3 * (time.perf_counter() - t0):.1f} ms after SIGKILL")
        assert poll(lambda: ended(holder.guard_pid), timeout=5), "the guard did not exit"
    finally:
        holder.close()


def test_goodbye_leaves_the_guard_nothing_to_do(xserver: str, core: display.Display) -> None:
    shift = core.keysym_to_keycode(XK.XK_Shift_L)
    holder = Holder(xserver, str(shift), "goodbye", str(shift))
    try:
        # said goodbye, then pressed again without the guard: after the kill it stays down
        assert key_down(core, shift)
        assert poll(lambda: ended(holder.guard_pid), timeout=5), "the guard outlived goodbye"
        holder.kill()
        assert key_down(core, shift)
    finally:
        holder.close()
        from Xlib import X
        from Xlib.ext import xtest

        xtest.fake_input(core, X.KeyRelease, shift)
        core.sync()


def test_the_persons_key_stays_down_when_the_guard_releases_the_same_key(
    xserver: str, human: SimulatedHuman, core: display.Display
) -> None:
    shift = core.keysym_to_keycode(XK.XK_Shift_L)
    human.key_down("Shift_L")  # the person holds Shift on their own keyboard...
    try:
        holder = Holder(xserver, str(shift))  # ... and the dying process holds it too
        try:
            assert key_down(core, shift) and key_down(human.d, shift)
            holder.kill()
            assert poll(lambda: not key_down(core, shift), timeout=2, every=0.001)
            # the human's connection reads the person's master keyboard
            assert key_down(human.d, shift), "the guard released the person's key"
        finally:
            holder.close()
    finally:
        human.key_up("Shift_L")
