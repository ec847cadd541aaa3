"""The recorder's view of X: every event the server produced before a stop is delivered."""

from __future__ import annotations

import time

import pytest
from Xlib import X

from capture.recorder.live import LiveInput, RecordedEvent
from tests.x11.human import SimulatedHuman

pytestmark = pytest.mark.x11


def test_close_delivers_every_event_already_produced(xserver: str, human: SimulatedHuman) -> None:
    seen: list[RecordedEvent] = []

    def slow(ev: RecordedEvent) -> None:
        # a loaded machine: the observer falls behind the person by a few hundred events
        time.sleep(0.0005)
        seen.append(ev)

    live = LiveInput(xserver, slow)
    live.start()
    code = human.keycode("a")
    for i in range(300):
        human.move(10 + i, 20)
        human._send(X.KeyPress, code)
        human._send(X.KeyRelease, code)
    live.close()  # at once: the last events may not have been read yet
    assert len(seen) == 900
    moves = [e.event for e in seen if e.event.x is not None]
    assert (moves[0].x, moves[0].y) == (10, 20) and (moves[-1].x, moves[-1].y) == (309, 20)
