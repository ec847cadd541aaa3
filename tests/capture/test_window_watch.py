"""Which windows of one WM_CLASS are mapped, asked of a real Xvfb; and which is under a pointer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from Xlib import display

from capture.input import InputEvent, Kind, Origin
from capture.window_watch import WindowWatch
from tests.daemon.live import poll
from tests.x11.human import SimulatedHuman

pytestmark = pytest.mark.x11

CLASS = "watch-test"


class Client:
    """An X client that makes top-level windows, optionally framed as a reparenting WM would."""

    def __init__(self, name: str) -> None:
        self.d = display.Display(name)
        self.root = self.d.screen().root

    def window(
        self, wm_class: str, *, x: int = 0, y: int = 0, size: int = 50, parent: Any = None
    ) -> Any:
        win = (parent or self.root).create_window(x, y, size, size, 0, self.d.screen().root_depth)
        win.set_wm_class("instance", wm_class)
        self.d.sync()
        return win

    def close(self) -> None:
        self.d.close()


@pytest.fixture
def client(xserver: str) -> Iterator[Client]:
    c = Client(xserver)
    yield c
    c.close()


@pytest.fixture
def watch(xserver: str) -> Iterator[WindowWatch]:
    with WindowWatch(xserver, CLASS) as w:
        yield w


def test_mapped_windows_of_the_class_and_only_those(watch: WindowWatch, client: Client) -> None:
    ours, other = client.window(CLASS), client.window("someone-else")
    assert watch.mapped() == frozenset() and watch.wait_none(0)
    other.map()
    ours.map()
    client.d.sync()
    assert poll(lambda: watch.mapped() == {ours.id}, timeout=3)
    assert watch.wait_none(0.05) is False  # still up: a bounded wait says so
    ours.unmap()
    client.d.sync()
    assert watch.wait_none(3)
    ours.map()
    client.d.sync()
    assert poll(lambda: watch.mapped() == {ours.id}, timeout=3)
    ours.destroy()  # a crashed overlay's windows are destroyed by the server
    client.d.sync()
    assert watch.wait_none(3)


def test_a_window_mapped_before_the_watch_starts_counts(xserver: str, client: Client) -> None:
    ours = client.window(CLASS)
    ours.map()
    client.d.sync()
    with WindowWatch(xserver, CLASS) as w:
        assert w.mapped() == {ours.id}
    ours.destroy()
    client.d.sync()


def test_a_frame_around_one_of_ours_counts(watch: WindowWatch, client: Client) -> None:
    frame = client.window("a-window-manager")
    inner = client.window(CLASS, parent=frame)
    inner.map()
    frame.map()
    client.d.sync()
    assert poll(lambda: watch.mapped() == {frame.id}, timeout=3)
    frame.unmap()
    client.d.sync()
    assert watch.wait_none(3)


def test_focus_is_read_and_given_back(watch: WindowWatch, client: Client) -> None:
    win = client.window("someone-else")
    win.map()
    client.d.sync()
    assert poll(lambda: watch.give_focus(win.id), timeout=3)
    assert watch.focus() == win.id and not watch.has_class(win.id)
    win.unmap()
    client.d.sync()
    assert watch.give_focus(win.id) is False  # gone meanwhile: nothing to give it to


def test_the_window_under_a_persons_pointer(
    xserver: str, client: Client, human: SimulatedHuman
) -> None:
    from capture.input._xorg import XorgBackend

    win = client.window(CLASS, x=300, y=300, size=100)
    win.map()
    client.d.sync()
    backend = XorgBackend(xserver)
    try:
        ev = InputEvent(Kind.MOTION, 0, Origin.FOREIGN, 0, 0.0, human.pointer_id)
        human.move(350, 350)
        assert backend.window_of(ev) == win.id
        human.move(10, 1000)
        assert backend.window_of(ev) != win.id
    finally:
        backend.close()
        win.destroy()
        client.d.sync()


def test_a_window_is_known_as_ours_before_the_watch_thread_sees_it_mapped(watch: WindowWatch, client: Client) -> None:
    """The person's hand can reach a toast before the watch thread has handled its
    MapNotify (two connections, two threads): asking about the window itself answers."""
    ours, other = client.window(CLASS), client.window("someone-else")
    ours.map()
    other.map()
    client.d.sync()
    assert watch.is_ours(ours.id) is True  # whatever the watch thread has handled so far
    assert watch.is_ours(other.id) is False
    assert watch.is_ours(0x7FFFFFF) is False  # no such window


def test_the_clearance_counts_a_toast_the_watch_has_not_handled_yet(xserver: str, client: Client) -> None:
    from daemon.control.clearance import OverlayClearance

    ours = client.window(CLASS)
    clearance = OverlayClearance(xserver, lambda ev: ours.id, wm_class=CLASS)
    try:
        ev = InputEvent(kind=Kind.MOTION, code=0, origin=Origin.FOREIGN, time=0, received=0.0)
        assert clearance._watch.mapped() == frozenset()  # not mapped at all: the watch knows nothing
        assert clearance.under(ev) is True  # yet the window under the pointer is ours
    finally:
        clearance.close()


def slowed(watch: WindowWatch, seconds: float) -> None:
    """Make the watch thread take ``seconds`` over each event (a loaded machine's thread)."""
    handle = watch._handle

    def slow(ev: Any) -> None:
        time.sleep(seconds)  # the lag under test, not a synchronisation
        handle(ev)

    watch._handle = slow  # type: ignore[method-assign]


def test_settle_catches_up_with_a_map_the_thread_has_not_handled(watch: WindowWatch, client: Client) -> None:
    """A window mapped just before (the server has done it) is in ``mapped`` once
    ``settle`` returns, however far behind the watch thread was."""
    slowed(watch, 0.3)
    ours = client.window(CLASS)
    ours.map()
    client.d.sync()  # the server has mapped it
    assert watch.settle(timeout=5) is True
    assert watch.mapped() == {ours.id}
    ours.unmap()
    client.d.sync()
    assert watch.settle(timeout=5) is True and watch.mapped() == frozenset()


def test_settle_returns_only_after_what_came_before_its_round_trip(watch: WindowWatch, client: Client) -> None:
    """A map the server does while the settle is under way, before the watch's round trip
    is answered, is handled before ``settle`` returns (its event precedes the reply)."""
    slowed(watch, 0.2)
    ours = client.window(CLASS)
    sync = watch._watch.sync

    def map_first() -> None:  # on the watch thread, as its round trip begins
        ours.map()
        client.d.sync()
        sync()

    watch._watch.sync = map_first  # type: ignore[method-assign]
    assert watch.settle(timeout=5) is True
    assert watch.mapped() == {ours.id}


def test_settle_answers_false_once_the_watch_is_closed(xserver: str) -> None:
    w = WindowWatch(xserver, CLASS)
    assert w.settle(timeout=5) is True
    w.close()
    assert w.settle(timeout=5) is False  # nothing written to a closed pipe, no wait


def test_the_clearance_waits_for_a_review_window_mapped_just_before(xserver: str, client: Client) -> None:
    """The next review's window, mapped a moment before an approved action would run, holds
    it, even while the watch thread has not heard of that window yet."""
    from daemon.control.clearance import OverlayClearance

    clearance = OverlayClearance(xserver, lambda ev: None, wm_class=CLASS)
    try:
        slowed(clearance._watch, 0.1)
        ours = client.window(CLASS)
        ours.map()
        client.d.sync()
        assert clearance.wait_clear(timeout=0.6) is False  # still up: the action would not run
        assert clearance._watch.mapped() == {ours.id}  # (caught up: not a settle timing out)
        ours.unmap()
        client.d.sync()
        assert clearance.wait_clear(timeout=5) is True
    finally:
        clearance.close()
