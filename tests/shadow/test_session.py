"""A Recording on a fake desktop: which frame each action gets, origins, flush at stop.

Events and frames carry explicit times on a fake clock; the worker thread is real (and
the SQLite store), so the order of arrival is the recorder's own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from Xlib import XK

from capture.coords import Rect
from capture.input import Kind, Origin
from capture.recorder import RawEvent
from capture.recorder.live import RecordedEvent
from capture.screen import Frame, encode
from daemon.shadow.session import Recording
from daemon.shadow_store import ShadowStore
from daemon.store import Store
from tests.daemon.live import poll


def _frame(value: int) -> Frame:
    return Frame(np.full((9, 16, 4), value, np.uint8), Rect(0, 0, 16, 9))


def _digest_file(frame: Frame) -> str:
    return f"shadow-frames/{hashlib.sha256(encode(frame, fmt='png')).hexdigest()[:32]}.png"


class FakeDesktop:
    display_name = ":fake"
    failure = None

    def __init__(self, on_event: Callable[[RecordedEvent], None]) -> None:
        self.on_event = on_event
        self.final = _frame(250)

    def start(self) -> None: ...
    def stop_input(self) -> None: ...
    def close(self) -> None: ...

    def screen_size(self) -> tuple[int, int]:
        return (16, 9)

    def grab(self) -> Frame:
        return self.final  # the frame grabbed at stop

    def title(self) -> str | None:
        return "at stop"

    def element_at(self, x: int, y: int) -> dict[str, object] | None:
        return {"role": "push button", "name": f"at {x},{y}"}

    def password_focused(self) -> bool:
        return False


def test_frames_before_and_after_survive_a_long_burst(tmp_path: Path) -> None:
    desktops: list[FakeDesktop] = []

    def make(on_event: Callable[[RecordedEvent], None]) -> FakeDesktop:
        desktops.append(FakeDesktop(on_event))
        return desktops[0]

    with Store(tmp_path / "driverseat.db") as store:
        rec = Recording(store, tmp_path / "shadow-frames", display=None, session="fake",
                        desktop=make, clock=lambda: 0.0)  # fmt: skip
        rec.start(grab_frames=False)
        send = desktops[0].on_event
        seen = 0

        def event(ev: RawEvent, origin: Origin = Origin.HUMAN) -> None:
            nonlocal seen
            send(RecordedEvent(ev, origin))
            seen += 1
            assert poll(lambda: rec.events == seen, 5)  # the worker has handled it

        before_click, before_typing = _frame(1), _frame(2)
        rec.ring.add(1.0, before_click, "Editor")
        event(RawEvent(Kind.BUTTON_DOWN, 1.5, 1, 5, 6), Origin.FOREIGN)
        event(RawEvent(Kind.BUTTON_UP, 1.55, 1, 5, 6), Origin.FOREIGN)
        rec.ring.add(2.0, _frame(3), "Editor")  # the click's effect
        rec.ring.add(4.0, before_typing, "Terminal")
        t = 5.0
        for i, ch in enumerate("hello"):
            event(RawEvent(Kind.KEY_DOWN, t, 30 + i, keysym=ord(ch), shifted=ord(ch.upper())))
            event(RawEvent(Kind.KEY_UP, t + 0.05, 30 + i, keysym=ord(ch)))
            # the screen changes with every key: more distinct frames than the ring holds
            rec.ring.add(t + 0.1, _frame(100 + i), "Terminal")
            rec.ring.add(t + 0.2, _frame(150 + i), "Terminal")
            t += 0.3
        event(RawEvent(Kind.KEY_DOWN, t, 50, keysym=XK.XK_Shift_L))  # shift held at the stop
        summary = rec.stop()
        assert summary.actions == 2 and summary.events == seen
        rows = ShadowStore(store).actions(ShadowStore(store).session("fake").id)  # type: ignore[union-attr]
    click, typed = rows
    assert click["action"]["action"] == "click" and (click["action"]["x"], click["action"]["y"]) == (5, 6)
    assert click["origin"] == "foreign" and click["window"] == "Editor"
    assert click["element"] == {"role": "push button", "name": "at 5,6"}
    assert typed_element_is_none(rows)
    assert click["frame_before"] == _digest_file(before_click)
    # the burst ended with the click: its after-frame is the last one before the typing
    assert click["frame_after"] == _digest_file(before_typing)
    assert typed["action"]["text"] == "hello" and typed["origin"] == "human"
    assert typed["frame_before"] == _digest_file(before_typing)  # pinned, though evicted
    assert typed["window"] == "Terminal"
    assert typed["frame_after"] == _digest_file(desktops[0].final)
    assert typed["started"] < typed["ended"]


def typed_element_is_none(rows: list[dict[str, object]]) -> bool:
    return rows[1]["element"] is None  # no element for keys and text
