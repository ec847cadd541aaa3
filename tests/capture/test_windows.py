"""The active window's title through EWMH, on a real Xvfb where the test plays the WM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from Xlib import X, Xatom, display

from capture import CaptureError
from capture.windows import WindowTitles, active_window_title

pytestmark = pytest.mark.x11


class FakeWM:
    """Does what an EWMH window manager does for titles: publish the active window."""

    def __init__(self, name: str) -> None:
        self.d = display.Display(name)
        self.root = self.d.screen().root
        self.active_atom = self.d.intern_atom("_NET_ACTIVE_WINDOW")
        self.utf8 = self.d.intern_atom("UTF8_STRING")
        self.windows: list[Any] = []

    def window(self, *, net_wm_name: str | None = None, wm_name: bytes | None = None) -> Any:
        s = self.d.screen()
        win = self.root.create_window(0, 0, 10, 10, 0, s.root_depth)
        if net_wm_name is not None:
            atom = self.d.intern_atom("_NET_WM_NAME")
            win.change_property(atom, self.utf8, 8, net_wm_name.encode("utf-8"))
        if wm_name is not None:
            win.change_property(Xatom.WM_NAME, Xatom.STRING, 8, wm_name)
        self.windows.append(win)
        self.d.sync()
        return win

    def activate(self, win: Any) -> None:
        self.root.change_property(self.active_atom, Xatom.WINDOW, 32, [win.id])
        self.d.sync()

    def deactivate(self) -> None:
        self.root.delete_property(self.active_atom)
        self.d.sync()

    def close(self) -> None:
        # The Xvfb is shared by the whole session: leave no active window behind.
        self.deactivate()
        for win in self.windows:
            win.destroy()
        self.d.close()


@pytest.fixture
def wm(xserver: str) -> Iterator[FakeWM]:
    w = FakeWM(xserver)
    w.deactivate()
    yield w
    w.close()


def test_reads_net_wm_name_in_utf8(xserver: str, wm: FakeWM) -> None:
    wm.activate(wm.window(net_wm_name="Terminal — bash", wm_name=b"legacy name"))
    assert active_window_title(xserver) == "Terminal — bash"


def test_no_active_window_is_none(xserver: str, wm: FakeWM) -> None:
    assert active_window_title(xserver) is None


def test_falls_back_to_wm_name(xserver: str, wm: FakeWM) -> None:
    wm.activate(wm.window(wm_name=b"xterm: caf\xe9"))  # STRING is Latin-1 (ICCCM)
    assert active_window_title(xserver) == "xterm: café"


def test_window_without_any_name_is_none(xserver: str, wm: FakeWM) -> None:
    wm.activate(wm.window())
    assert active_window_title(xserver) is None


def test_active_window_that_is_gone_is_none(xserver: str, wm: FakeWM) -> None:
    win = wm.window(net_wm_name="closing")
    wm.activate(win)
    wm.windows.remove(win)
    win.destroy()
    wm.d.sync()
    assert active_window_title(xserver) is None


def test_one_connection_follows_changes(xserver: str, wm: FakeWM) -> None:
    first = wm.window(net_wm_name="Inbox — Mail")
    second = wm.window(net_wm_name="Terminal — bash")
    with WindowTitles(xserver) as titles:
        assert titles.active() is None
        wm.activate(first)
        assert titles.active() == "Inbox — Mail"
        wm.activate(second)
        assert titles.active() == "Terminal — bash"
        wm.root.change_property(wm.active_atom, Xatom.WINDOW, 32, [X.NONE])
        wm.d.sync()
        assert titles.active() is None
    with pytest.raises(CaptureError, match="closed"):
        titles.active()


# python-xlib leaves its socket open when a connection fails; not ours to fix here
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_display_that_cannot_be_opened_raises() -> None:
    with pytest.raises(CaptureError, match="cannot open X display :4321"):
        active_window_title(":4321")
