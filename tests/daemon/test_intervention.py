"""The control state machine, driven by a fake backend's events (logic only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from capture.input import InputEvent, Kind, Origin
from capture.input.keys import keysym_for_name
from daemon.control.intervention import Intervention


def ev(kind: Kind, code: int = 0, origin: Origin = Origin.HUMAN) -> InputEvent:
    return InputEvent(kind, code, origin, 0, time.monotonic(), device=8)


def wait_until(pred, timeout: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return bool(pred())


@pytest.fixture
def iv() -> Iterator[Intervention]:
    # fake key codes are keysyms
    i = Intervention(
        resume_after=0.2,
        kill_switch="ctrl+alt+End",
        keysym_of=lambda code, shifted: code,
        pointer_of=lambda e: (10, 20),
    )
    yield i
    i.close()


def test_our_own_events_change_nothing(iv: Intervention) -> None:
    for _ in range(100):
        iv.on_input(ev(Kind.MOTION, origin=Origin.OURS))
    assert iv.state == "agent"
    assert not iv.yield_event.is_set()


@pytest.mark.parametrize("origin", [Origin.HUMAN, Origin.FOREIGN])
def test_any_other_input_takes_over_at_once(iv: Intervention, origin: Origin) -> None:
    iv.on_input(ev(Kind.MOTION, origin=origin))
    assert iv.state == "human"
    assert iv.yield_event.is_set()
    assert iv.takeovers == 1


def test_resumes_after_idle_with_a_summary(iv: Intervention) -> None:
    events: list[tuple[str, dict]] = []  # type: ignore[type-arg]
    iv.listeners.append(lambda kind, payload: events.append((kind, payload)))
    iv.on_input(ev(Kind.BUTTON_DOWN, 1))
    iv.on_input(ev(Kind.BUTTON_UP, 1))
    for ch in "hi":
        iv.on_input(ev(Kind.KEY_DOWN, ord(ch)))
        iv.on_input(ev(Kind.KEY_UP, ord(ch)))
    iv.on_input(ev(Kind.KEY_DOWN, keysym_for_name("ctrl")))
    iv.on_input(ev(Kind.KEY_DOWN, ord("s")))
    iv.on_input(ev(Kind.KEY_UP, ord("s")))
    iv.on_input(ev(Kind.KEY_UP, keysym_for_name("ctrl")))
    assert iv.state == "human"
    assert wait_until(lambda: iv.state == "agent")
    assert not iv.yield_event.is_set()
    summary = iv.take_summary()
    assert summary is not None
    assert summary.text == "hi"
    assert summary.keys == ("Control_L+s",)
    assert [(c.x, c.y, c.button) for c in summary.clicks] == [(10, 20, 1)]
    assert iv.take_summary() is None  # given once
    assert [p["to"] for k, p in events if k == "control"] == ["human", "agent"]


def test_no_resume_while_the_person_holds_a_button(iv: Intervention) -> None:
    iv.on_input(ev(Kind.BUTTON_DOWN, 1))
    assert not wait_until(lambda: iv.state == "agent", timeout=0.5)
    iv.on_input(ev(Kind.BUTTON_UP, 1))
    assert wait_until(lambda: iv.state == "agent")


def test_kill_switch_stops_until_explicit_resume(iv: Intervention) -> None:
    ctrl, alt, end = (keysym_for_name(n) for n in ("ctrl", "alt", "End"))
    for k in (ctrl, alt, end):
        iv.on_input(ev(Kind.KEY_DOWN, k))
    assert iv.state == "stopped"
    for k in (end, alt, ctrl):
        iv.on_input(ev(Kind.KEY_UP, k))
    assert not wait_until(lambda: iv.state != "stopped", timeout=0.5)  # idle does not resume
    # the hotkey again resumes, and letting go of it is not a new takeover
    for k in (ctrl, alt, end):
        iv.on_input(ev(Kind.KEY_DOWN, k))
    for k in (end, alt, ctrl):
        iv.on_input(ev(Kind.KEY_UP, k))
    assert iv.state == "agent"
    assert not iv.yield_event.is_set()


def test_right_hand_modifiers_count(iv: Intervention) -> None:
    for name in ("Control_R", "Alt_R", "End"):
        iv.on_input(ev(Kind.KEY_DOWN, keysym_for_name(name)))
    assert iv.state == "stopped"


def test_api_stop_and_resume(iv: Intervention) -> None:
    iv.stop()
    assert iv.state == "stopped" and iv.yield_event.is_set()
    iv.on_input(ev(Kind.MOTION))
    assert iv.state == "stopped"
    iv.resume()
    assert iv.state == "agent" and not iv.yield_event.is_set()


def test_listener_runs_outside_the_lock(iv: Intervention) -> None:
    seen = threading.Event()

    def listener(kind: str, payload: dict) -> None:  # type: ignore[type-arg]
        iv.snapshot()  # would deadlock if called under the lock
        seen.set()

    iv.listeners.append(listener)
    iv.on_input(ev(Kind.MOTION))
    assert seen.wait(1)


def test_input_to_an_open_review_is_not_a_takeover(iv: Intervention) -> None:
    iv.review_opened()
    iv.on_input(ev(Kind.MOTION))
    iv.on_input(ev(Kind.BUTTON_DOWN, 1))
    iv.on_input(ev(Kind.KEY_DOWN, keysym_for_name("Return")))
    assert iv.state == "agent" and not iv.yield_event.is_set()
    iv.review_closed()
    # letting go of what was pressed for the review, and the hand settling, are not takeovers
    iv.on_input(ev(Kind.BUTTON_UP, 1))
    iv.on_input(ev(Kind.KEY_UP, keysym_for_name("Return")))
    iv.on_input(ev(Kind.MOTION))
    assert iv.state == "agent" and iv.takeovers == 0
    # a new press is a takeover again
    iv.on_input(ev(Kind.BUTTON_DOWN, 3))
    assert iv.state == "human"


def test_kill_switch_works_during_a_review(iv: Intervention) -> None:
    iv.review_opened()
    for name in ("ctrl", "alt", "End"):
        iv.on_input(ev(Kind.KEY_DOWN, keysym_for_name(name)))
    assert iv.state == "stopped"


def test_letting_go_of_enter_while_the_approved_action_runs_is_not_a_takeover(iv: Intervention) -> None:
    enter = keysym_for_name("Return")
    iv.review_opened()
    iv.on_input(ev(Kind.KEY_DOWN, enter))
    iv.review_closed()
    iv.executing = True  # the approved action has started
    iv.on_input(ev(Kind.KEY_UP, enter))
    iv.on_input(ev(Kind.MOTION))  # the hand settling
    assert iv.state == "agent"
    iv.on_input(ev(Kind.KEY_DOWN, keysym_for_name("a")))  # a new key is a takeover
    assert iv.state == "human"


class FakeOverlay:
    """An overlay window under the pointer while ``on`` (the grace toast, say)."""

    def __init__(self) -> None:
        self.on = True
        self.asked = 0
        self.focus_noted = 0

    def under(self, ev: InputEvent) -> bool:
        self.asked += 1
        return self.on

    def remember_focus(self) -> None:
        self.focus_noted += 1

    def clear(self) -> bool:
        return not self.on

    def wait_clear(self, timeout: float = 5.0) -> bool:
        return not self.on

    def close(self) -> None:
        return None


def test_reaching_for_and_clicking_the_toast_is_not_a_takeover(iv: Intervention) -> None:
    iv.overlay = FakeOverlay()
    for _ in range(5):
        iv.on_input(ev(Kind.MOTION))
    iv.on_input(ev(Kind.BUTTON_DOWN, 1))
    iv.overlay.on = False  # type: ignore[attr-defined]  # the toast goes once Cancel is clicked
    iv.on_input(ev(Kind.BUTTON_UP, 1))
    iv.on_input(ev(Kind.MOTION))  # the same hand moving away
    assert iv.state == "agent" and iv.takeovers == 0
    assert not iv.yield_event.is_set()


def test_input_off_the_overlay_or_while_executing_takes_over(iv: Intervention) -> None:
    overlay = FakeOverlay()
    overlay.on = False
    iv.overlay = overlay
    iv.on_input(ev(Kind.BUTTON_DOWN, 1))
    assert iv.state == "human"
    iv.resume()
    iv.on_input(ev(Kind.BUTTON_UP, 1))
    iv.resume()
    overlay.on = True
    iv.executing = True  # while an action runs a press is a takeover, toast or not
    asked = overlay.asked
    iv.on_input(ev(Kind.BUTTON_DOWN, 1))
    assert iv.state == "human" and overlay.asked == asked  # not even asked: no round trip


def test_keys_are_never_asked_about_and_a_review_notes_the_focus(iv: Intervention) -> None:
    overlay = FakeOverlay()
    iv.overlay = overlay
    iv.on_input(ev(Kind.KEY_DOWN, 0x61))  # the toast never has the keyboard
    assert iv.state == "human" and overlay.asked == 0
    iv.review_opened()
    assert overlay.focus_noted == 1
