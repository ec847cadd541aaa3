"""The X11 backend on a real Xvfb: provenance, remapping, teardown."""

from __future__ import annotations

import queue
import select
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from Xlib import display

from capture import CaptureError, UnsupportedPlatform
from capture.input import InputEvent, Kind, Origin, Primitive, backend_name, open_backend
from capture.input._xorg import XorgBackend
from tests.daemon.live import poll
from tests.x11.human import SimulatedHuman


@pytest.fixture
def backend(xserver: str) -> Iterator[tuple[XorgBackend, queue.Queue[InputEvent]]]:
    b = open_backend(xserver)
    assert isinstance(b, XorgBackend)
    q: queue.Queue[InputEvent] = queue.Queue()
    b.start(q.put)
    yield b, q
    b.close()


def drain(q: queue.Queue[InputEvent], timeout: float = 0.3) -> list[InputEvent]:
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            out.append(q.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            break
    return out


@pytest.mark.x11
def test_our_input_is_recognised_and_never_reported(backend: tuple[XorgBackend, queue.Queue[InputEvent]]) -> None:
    b, q = backend
    before = b.ours_seen
    for i in range(100):
        b.barrier()
        b.send(Primitive(Kind.MOTION, x=10 + i, y=10))
    b.send(Primitive(Kind.MOTION, x=109, y=10))  # the same spot again still produces an event
    code = b.key_code(0x61)
    b.send(Primitive(Kind.KEY_DOWN, code))
    b.send(Primitive(Kind.KEY_UP, code))
    b.send(Primitive(Kind.BUTTON_DOWN, 4))
    b.send(Primitive(Kind.BUTTON_UP, 4))
    deadline = time.monotonic() + 3
    while b.ours_seen - before < 105 and time.monotonic() < deadline:
        b.barrier()
    assert b.ours_seen - before == 105
    assert q.empty()
    assert len(b.ledger) == 0


@pytest.mark.x11
def test_what_follows_input_already_here_waits_for_the_observer_to_read_it(
    xserver: str, human: SimulatedHuman
) -> None:
    """after_observed and catch_up: the observer lags (stuck on a first key), a second key
    waits unread on its socket; what is asked for now comes after both are handled."""
    b = open_backend(xserver)
    assert isinstance(b, XorgBackend)
    seen: list[Kind] = []
    stuck, go = threading.Event(), threading.Event()

    def lagging(e: InputEvent) -> None:
        if not stuck.is_set():
            stuck.set()
            go.wait(10)
        seen.append(e.kind)

    b.start(lagging)
    try:
        human.key_down("a")
        assert stuck.wait(5)
        human.key_up("a")
        fd = b._obs.fileno()
        deadline = time.monotonic() + 5
        while not select.select([fd], [], [], 0.01)[0] and time.monotonic() < deadline:
            pass  # until the release is on the observer's socket, unread
        assert b.observing()  # what run_now asks: it would wait, so it leaves it to the executor
        marks: list[list[Kind]] = []
        b.after_observed(lambda: marks.append(list(seen)))
        assert marks == []  # not now: the observer has not caught up
        threading.Timer(0.2, go.set).start()  # whether or not catch_up waits by then
        b.catch_up(5)
        assert seen == [Kind.KEY_DOWN, Kind.KEY_UP]
        deadline = time.monotonic() + 5
        while not marks and time.monotonic() < deadline:
            time.sleep(0.005)
        assert marks == [[Kind.KEY_DOWN, Kind.KEY_UP]]
        # with nothing left to read, at once and here
        assert poll(lambda: not b.observing(), timeout=5)
        b.after_observed(lambda: marks.append([]))
        assert marks[-1] == []
    finally:
        go.set()
        b.close()


@pytest.mark.x11
def test_second_master_is_not_ours(
    backend: tuple[XorgBackend, queue.Queue[InputEvent]], human: SimulatedHuman
) -> None:
    b, q = backend
    human.click(321, 234)
    events = drain(q)
    kinds = [e.kind for e in events]
    assert Kind.BUTTON_DOWN in kinds and Kind.BUTTON_UP in kinds
    assert {e.origin for e in events} == {Origin.FOREIGN}  # an XTEST device that is not ours
    press = next(e for e in events if e.kind is Kind.BUTTON_DOWN)
    assert press.code == 1
    assert b.pointer_of(press) == (321, 234)
    human.tap("q")
    keys = [e for e in drain(q) if e.kind is Kind.KEY_DOWN]
    assert keys and b.keysym_of(keys[0].code) == ord("q")


@pytest.mark.x11
def test_xdotool_is_a_foreign_injector(backend: tuple[XorgBackend, queue.Queue[InputEvent]], xserver: str) -> None:
    _, q = backend
    subprocess.run(["xdotool", "click", "3"], check=True, env={"DISPLAY": xserver, "PATH": "/usr/bin:/bin"})
    events = drain(q)
    assert [(e.kind, e.code, e.origin) for e in events if e.kind is not Kind.MOTION] == [
        (Kind.BUTTON_DOWN, 3, Origin.FOREIGN),
        (Kind.BUTTON_UP, 3, Origin.FOREIGN),
    ]


@pytest.mark.x11
def test_remapped_keys_are_restored_on_close(xserver: str) -> None:
    b = XorgBackend(xserver)
    d = display.Display(xserver)
    try:
        b.start(lambda e: None)
        prims = b.plan_char("你", lambda s: False)
        assert prims is not None
        code = prims[0].code
        b.barrier()
        assert d.get_keyboard_mapping(code, 1)[0][0] == 0x01000000 + ord("你")
        b.close()
        assert not any(d.get_keyboard_mapping(code, 1)[0])
    finally:
        b.close()
        d.close()


@pytest.mark.x11
def test_shifted_characters_press_shift(xserver: str) -> None:
    b = XorgBackend(xserver)
    try:
        prims = b.plan_char("A", lambda s: False)
        assert prims is not None
        assert [p.kind for p in prims] == [Kind.KEY_DOWN, Kind.KEY_DOWN, Kind.KEY_UP, Kind.KEY_UP]
        assert prims[0].code == b.key_code(0xFFE1)
    finally:
        b.close()


# python-xlib leaves its socket open when a connection fails; not ours to fix here
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_bad_display_is_a_clear_error() -> None:
    with pytest.raises(CaptureError, match="cannot open X display"):
        XorgBackend(":4242")


def test_no_display_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(UnsupportedPlatform, match="DISPLAY is not set"):
        XorgBackend()


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({"DISPLAY": ":0"}, "linux", "xorg"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", "wayland"),
        ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux", "xorg"),
        ({}, "win32", "win32"),
        ({}, "darwin", "darwin"),
        ({"DRIVERSEAT_INPUT_BACKEND": "fake"}, "linux", "fake"),
    ],
)
def test_backend_choice(env: dict[str, str], platform: str, expected: str) -> None:
    assert backend_name(env, platform) == expected


@pytest.mark.parametrize("name", ["wayland", "win32", "darwin", "beos"])
def test_unsupported_platforms_are_named(name: str) -> None:
    with pytest.raises(UnsupportedPlatform, match=name):
        open_backend(name=name)
