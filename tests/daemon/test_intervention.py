"""The control state machine, driven by a fake backend's events (logic only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

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


def test_a_review_closes_only_once_the_observer_has_seen_what_decided_it() -> None:
    """On a busy machine the observer lags behind the overlay: the Enter that approved a
    review may be read after the review was decided. It is still review input."""
    later: list[Callable[[], None]] = []  # what the lagging observer will run once caught up
    i = Intervention(keysym_of=lambda code, shifted: code, after_observed=later.append)
    try:
        enter = keysym_for_name("Return")
        i.review_opened()
        i.review_closed()  # the overlay saw the Enter; the observer has not read it yet
        assert len(later) == 1
        i.on_input(ev(Kind.KEY_DOWN, enter))  # read now
        later.pop()()  # caught up: now the review counts as closed
        i.on_input(ev(Kind.KEY_UP, enter))
        assert i.state == "agent" and i.takeovers == 0
        i.on_input(ev(Kind.KEY_DOWN, keysym_for_name("a")))  # a new key is a takeover
        assert i.state == "human"
    finally:
        i.close()


def test_an_undo_window_closes_only_once_the_observer_has_seen_what_closed_it() -> None:
    later: list[Callable[[], None]] = []
    i = Intervention(after_observed=later.append)
    try:
        i.toast_opened()
        i.toast_closed()
        assert len(later) == 1 and i._toasts == 1  # still up for the input the observer has not read
        later.pop()()
        assert i._toasts == 0
    finally:
        i.close()


def test_kill_switch_works_during_a_review(iv: Intervention) -> None:
    iv.review_opened()
    for name in ("ctrl", "alt", "End"):
        iv.on_input(ev(Kind.KEY_DOWN, keysym_for_name(name)))
    assert iv.state == "stopped"


def test_letting_go_of_enter_while_the_approved_action_runs_is_not_a_takeover(
    iv: Intervention,
) -> None:
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


# -- the hot path ----------------------------------------------------------------------------


def test_yield_is_signalled_before_the_lock_is_taken(iv: Intervention) -> None:
    # the executor must stop at once even while another thread holds the state lock
    worker = threading.Thread(target=iv.on_input, args=(ev(Kind.MOTION),))
    with iv._cond:
        worker.start()
        assert wait_until(iv.yield_event.is_set)
        assert iv.state == "agent"  # the bookkeeping waits for the lock
    worker.join(5)
    assert iv.state == "human"


def test_a_lone_key_release_is_a_takeover(iv: Intervention) -> None:
    # a key pressed before the agent's action started, let go during it
    iv.on_input(ev(Kind.KEY_UP, ord("a")))
    assert iv.state == "human" and iv.yield_event.is_set()


def test_letting_go_of_the_kill_switch_is_swallowed_once(iv: Intervention) -> None:
    ctrl, alt, end = (keysym_for_name(n) for n in ("ctrl", "alt", "End"))
    for k in (ctrl, alt, end):
        iv.on_input(ev(Kind.KEY_DOWN, k))
    for k in (end, alt, ctrl):
        iv.on_input(ev(Kind.KEY_UP, k))
    assert iv.state == "stopped"
    iv.resume()
    iv.on_input(ev(Kind.KEY_UP, end))  # a later release of End is input like any other
    assert iv.state == "human"


# -- transitions and what they announce --------------------------------------------------------


def _control_events(iv: Intervention) -> list[dict]:  # type: ignore[type-arg]
    events: list[dict] = []  # type: ignore[type-arg]
    iv.listeners.append(lambda kind, payload: events.append(payload) if kind == "control" else None)
    return events


def test_transition_events_say_what_happened(iv: Intervention) -> None:
    events = _control_events(iv)
    iv.on_input(ev(Kind.MOTION, origin=Origin.FOREIGN))
    first = iv.takeover_id
    assert first is not None and len(first) == 32
    assert events == [
        {"from": "agent", "to": "human", "by": "input", "origin": "foreign", "device": 8,
         "takeover_id": first},
    ]  # fmt: skip
    assert wait_until(lambda: len(events) == 2)  # idle resume
    summary = iv.take_summary()
    assert summary is not None and summary.motions == 1
    assert events[1] == {
        "from": "human", "to": "agent", "by": "idle", "takeover_id": first,
        "human_activity": summary.model_dump(),
    }  # fmt: skip
    iv.stop()
    second = iv.takeover_id
    assert second not in (None, first) and iv.takeovers == 2
    assert events[2] == {"from": "agent", "to": "stopped", "by": "api", "takeover_id": second}
    iv.resume(by="cli")
    assert (events[3]["from"], events[3]["to"], events[3]["by"]) == ("stopped", "agent", "cli")
    assert events[3]["takeover_id"] == second and "human_activity" in events[3]
    iv.stop(by="observer-failure")
    iv.resume()
    assert [(e["by"]) for e in events[4:]] == ["observer-failure", "api"]


def test_every_takeover_is_counted_and_summarised_on_its_own(iv: Intervention) -> None:
    ids = []
    for ch in "ab":
        iv.on_input(ev(Kind.KEY_DOWN, ord(ch)))
        iv.on_input(ev(Kind.KEY_UP, ord(ch)))
        ids.append(iv.takeover_id)
        iv.resume()
        summary = iv.take_summary()
        assert summary is not None and summary.text == ch
    assert iv.takeovers == 2 and len(set(ids)) == 2 and None not in ids


def test_what_the_person_does_while_stopped_is_summarised(iv: Intervention) -> None:
    iv.stop()
    iv.on_input(ev(Kind.KEY_DOWN, ord("x")))
    iv.on_input(ev(Kind.KEY_UP, ord("x")))
    iv.resume()
    summary = iv.take_summary()
    assert summary is not None and summary.text == "x"


def test_kill_switch_from_agent_announces_the_stop(iv: Intervention) -> None:
    events = _control_events(iv)
    for name in ("ctrl", "alt", "End"):
        iv.on_input(ev(Kind.KEY_DOWN, keysym_for_name(name)))
    assert iv.state == "stopped"
    last = events[-1]
    assert (last["from"], last["to"], last["by"], last["origin"], last["device"]) == (
        "human", "stopped", "input", "human", 8,
    )  # fmt: skip


def test_kill_switch_twice_during_a_review_stops_then_resumes(iv: Intervention) -> None:
    events = _control_events(iv)
    iv.review_opened()
    chord = [keysym_for_name(n) for n in ("ctrl", "alt", "End")]
    for _ in range(2):
        for k in chord:
            iv.on_input(ev(Kind.KEY_DOWN, k))
        for k in reversed(chord):
            iv.on_input(ev(Kind.KEY_UP, k))
    assert iv.state == "agent"
    assert [(e["from"], e["to"], e["by"], e.get("origin"), e.get("device")) for e in events] == [
        ("agent", "stopped", "input", "human", 8),
        ("stopped", "agent", "input", None, None),  # a resume names no device
    ]


def test_the_chord_completes_with_a_right_hand_modifier_last(iv: Intervention) -> None:
    for name in ("End", "Alt_L", "Control_R"):
        iv.on_input(ev(Kind.KEY_DOWN, keysym_for_name(name)))
    assert iv.state == "stopped"


def test_a_kill_switch_named_with_right_hand_keys_matches_either_hand() -> None:
    i = Intervention(kill_switch="Control_R+Alt_R+End", keysym_of=lambda code, shifted: code)
    try:
        for name in ("Control_L", "Alt_L", "End"):
            i.on_input(ev(Kind.KEY_DOWN, keysym_for_name(name)))
        assert i.state == "stopped"
    finally:
        i.close()


# -- the activity summary -----------------------------------------------------------------------


def test_shift_reaches_the_keysym_lookup() -> None:
    def keysym_of(code: int, shifted: bool) -> int:
        return code - 32 if shifted and ord("a") <= code <= ord("z") else code

    i = Intervention(keysym_of=keysym_of)
    try:
        shift = keysym_for_name("shift")
        i.on_input(ev(Kind.KEY_DOWN, shift))
        i.on_input(ev(Kind.KEY_DOWN, ord("a")))
        i.on_input(ev(Kind.KEY_UP, ord("a")))
        i.on_input(ev(Kind.KEY_UP, shift))
        i.on_input(ev(Kind.KEY_DOWN, ord("b")))
        i.on_input(ev(Kind.KEY_UP, ord("b")))
        i.resume()
        summary = i.take_summary()
        assert summary is not None and summary.text == "Ab"
    finally:
        i.close()


def test_clicks_are_placed_by_their_own_event() -> None:
    where = {1: (30, 40), 2: None}  # event time -> pointer position (None: unknown)
    i = Intervention(pointer_of=lambda e: where[e.time])
    try:
        for t, button in ((1, 1), (2, 3)):
            i.on_input(InputEvent(Kind.BUTTON_DOWN, button, Origin.HUMAN, t, time.monotonic(), 8))
            i.on_input(InputEvent(Kind.BUTTON_UP, button, Origin.HUMAN, t, time.monotonic(), 8))
        for _ in range(3):
            i.on_input(ev(Kind.MOTION))
        i.resume()
        summary = i.take_summary()
        assert summary is not None
        assert [(c.x, c.y, c.button) for c in summary.clicks] == [(30, 40, 1), (None, None, 3)]
        assert summary.motions == 3
    finally:
        i.close()


# -- reviews: review input vs takeover ----------------------------------------------------------


def test_two_open_reviews_need_two_closes(iv: Intervention) -> None:
    iv.review_opened()
    iv.review_opened()
    iv.review_closed()
    iv.on_input(ev(Kind.BUTTON_DOWN, 1))  # still answering the second review
    iv.on_input(ev(Kind.BUTTON_UP, 1))
    assert iv.state == "agent"
    iv.review_closed()
    iv.review_opened()  # and a later review works the same
    iv.on_input(ev(Kind.KEY_DOWN, keysym_for_name("Return")))
    iv.on_input(ev(Kind.KEY_UP, keysym_for_name("Return")))
    assert iv.state == "agent" and iv.takeovers == 0


@pytest.mark.parametrize(
    "event",
    [ev(Kind.BUTTON_DOWN, 1), ev(Kind.KEY_DOWN, ord("a")), ev(Kind.KEY_UP, ord("a"))],
    ids=["press", "key", "release"],
)
def test_input_while_an_action_runs_is_a_takeover_even_with_a_review_open(
    iv: Intervention, event: InputEvent
) -> None:
    iv.review_opened()
    iv.executing = True
    iv.on_input(event)
    assert iv.state == "human" and iv.yield_event.is_set()


def test_what_was_pressed_for_a_review_is_let_go_once(iv: Intervention) -> None:
    enter = keysym_for_name("Return")
    iv.review_opened()
    iv.on_input(ev(Kind.KEY_DOWN, enter))
    iv.review_closed()
    iv.on_input(ev(Kind.KEY_UP, enter))
    assert iv.state == "agent"
    iv.on_input(ev(Kind.KEY_UP, enter))  # nothing of the review's is held any more
    assert iv.state == "human"


# -- resuming ------------------------------------------------------------------------------------


def test_no_resume_before_resume_after() -> None:
    i = Intervention(resume_after=1.0)
    try:
        i.on_input(ev(Kind.MOTION))
        assert not wait_until(lambda: i.state == "agent", timeout=0.3)
        assert wait_until(lambda: i.state == "agent")
    finally:
        i.close()


def test_no_resume_while_the_person_holds_a_key(iv: Intervention) -> None:
    iv.on_input(ev(Kind.KEY_DOWN, ord("a")))
    assert not wait_until(lambda: iv.state == "agent", timeout=0.5)
    assert iv.snapshot()["person_holding"] is True
    iv.on_input(ev(Kind.KEY_UP, ord("a")))
    assert wait_until(lambda: iv.state == "agent")


def test_the_resume_thread_never_keeps_the_process_alive() -> None:
    before = set(threading.enumerate())
    i = Intervention()
    (timer,) = [t for t in threading.enumerate() if t not in before]
    assert timer.name == "driverseat-resume" and timer.daemon
    i.close()
    assert not timer.is_alive()


# -- on a clock of the test's own ---------------------------------------------------------------


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def at(clock: Clock, kind: Kind, code: int = 0) -> InputEvent:
    return InputEvent(kind, code, Origin.HUMAN, 0, clock.t, device=8)


@pytest.fixture
def clock() -> Clock:
    return Clock(0.25)


@pytest.fixture
def civ(clock: Clock) -> Iterator[Intervention]:
    i = Intervention(keysym_of=lambda code, shifted: code, clock=clock)  # defaults otherwise
    yield i
    i.close()


def test_snapshot(civ: Intervention, clock: Clock) -> None:
    assert civ.take_summary() is None
    assert civ.snapshot() == {
        "control": "agent", "since_s": 0.0, "idle_s": None, "resume_after_s": 2.0,
        "kill_switch": "ctrl+alt+End", "takeovers": 0, "takeover_id": None,
        "person_holding": False,
    }  # fmt: skip
    clock.t = 0.5
    civ.on_input(at(clock, Kind.MOTION))  # the very first input is a takeover too
    clock.t = 2.62345
    snap = civ.snapshot()
    assert (snap["control"], snap["since_s"], snap["idle_s"]) == ("human", 2.123, 2.123)
    assert (snap["takeovers"], snap["takeover_id"]) == (1, civ.takeover_id)
    civ.on_input(at(clock, Kind.BUTTON_DOWN, 1))
    assert civ.snapshot()["person_holding"] is True  # a button alone
    civ.on_input(at(clock, Kind.BUTTON_UP, 1))
    assert civ.snapshot()["person_holding"] is False
    civ.resume()
    summary = civ.take_summary()
    assert summary is not None and summary.seconds == 2.123
    snap = civ.snapshot()
    assert (snap["control"], snap["since_s"], snap["idle_s"]) == ("agent", 0.0, None)


def test_why_not_agent(civ: Intervention) -> None:
    civ.on_input(at(Clock(1.0), Kind.MOTION))
    assert civ.why_not_agent() == (
        "a person is using the mouse or keyboard; control returns to the agent after 2 s "
        "without their input"
    )
    civ.stop()
    assert civ.why_not_agent() == (
        "driverseat is stopped (kill switch ctrl+alt+End or a stop request); "
        "it waits for an explicit resume"
    )


def test_the_settle_window_ends_at_its_boundary(civ: Intervention, clock: Clock) -> None:
    enter = keysym_for_name("Return")
    clock.t = 100.0
    civ.review_opened()
    civ.on_input(at(clock, Kind.KEY_DOWN, enter))
    civ.review_closed()  # settles until 100.5; Enter is still held
    clock.t = 100.4
    civ.on_input(at(clock, Kind.MOTION))
    assert civ.state == "agent"
    clock.t = 100.5
    civ.on_input(at(clock, Kind.MOTION))
    assert civ.state == "human"


def test_a_stop_is_summarised_as_a_stop_naming_its_cause(iv: Intervention) -> None:
    iv.stop(by="api")
    iv.on_input(ev(Kind.BUTTON_DOWN, 1))
    iv.on_input(ev(Kind.BUTTON_UP, 1))
    iv.resume()
    summary = iv.take_summary()
    assert summary is not None and summary.stopped_by == "api"
    said = summary.summary()
    assert said.startswith("driverseat was stopped by a stop request (`driverseat stop`")
    assert "then resumed; meanwhile the person clicked 1 time(s) at (10, 20)." in said
    assert "had control" not in said


def test_the_kill_switch_is_named_as_the_cause(iv: Intervention) -> None:
    keys = [keysym_for_name(n) for n in ("ctrl", "alt", "End")]
    for _ in range(2):  # stop, then resume
        for k in keys:
            iv.on_input(ev(Kind.KEY_DOWN, k))
        for k in reversed(keys):
            iv.on_input(ev(Kind.KEY_UP, k))
    assert iv.state == "agent"
    summary = iv.take_summary()
    assert summary is not None and summary.stopped_by == "kill_switch"
    assert summary.summary().startswith("driverseat was stopped by the kill switch for ")
    assert summary.summary().endswith(" s, then resumed.")


def test_a_takeover_without_a_stop_still_says_the_person_had_control(iv: Intervention) -> None:
    iv.on_input(ev(Kind.KEY_DOWN, ord("a")))
    iv.on_input(ev(Kind.KEY_UP, ord("a")))
    iv.resume()
    summary = iv.take_summary()
    assert summary is not None and summary.stopped_by is None
    assert summary.summary().startswith("The person had control for ")
    assert summary.summary().endswith("; typed 'a'.")


def test_what_is_typed_into_a_review_stays_out_of_the_takeover_summary(iv: Intervention) -> None:
    """A secret typed into a question that opened while the person still had control
    (issue 10) must not reach the activity summary, which is stored and published."""
    events: list[tuple[str, dict]] = []  # type: ignore[type-arg]
    iv.listeners.append(lambda kind, payload: events.append((kind, payload)))
    iv.on_input(ev(Kind.KEY_DOWN, ord("a")))
    iv.on_input(ev(Kind.KEY_UP, ord("a")))
    assert iv.state == "human"
    iv.review_opened()
    for ch in "4938":
        iv.on_input(ev(Kind.KEY_DOWN, ord(ch)))
        iv.on_input(ev(Kind.KEY_UP, ord(ch)))
    iv.review_closed()
    assert wait_until(lambda: iv.state == "agent")
    summary = next(p["human_activity"] for k, p in events if p.get("to") == "agent")
    assert summary["text"] == "a"


# -- the taps: what the recorder and a takeover's answer are handed ------------------------------


def tapped(iv: Intervention) -> list[tuple[InputEvent, bool]]:
    seen: list[tuple[InputEvent, bool]] = []
    iv.taps.append(lambda e, person: seen.append((e, person)))
    return seen


def test_the_persons_input_is_tapped_as_theirs_and_ours_never(iv: Intervention) -> None:
    seen = tapped(iv)
    ours = ev(Kind.MOTION, origin=Origin.OURS)
    iv.on_input(ours)
    down, up = ev(Kind.BUTTON_DOWN, 1), ev(Kind.BUTTON_UP, 1)
    iv.on_input(down)  # the takeover's first event is the person's demonstration too
    iv.on_input(up)
    assert seen == [(down, True), (up, True)]


def test_review_input_is_tapped_but_never_as_the_persons(iv: Intervention) -> None:
    seen = tapped(iv)
    iv.review_opened()
    enter = ev(Kind.KEY_DOWN, keysym_for_name("Return"))
    iv.on_input(enter)
    iv.review_closed()
    settle = ev(Kind.MOTION)
    iv.on_input(settle)
    assert seen == [(enter, False), (settle, False)] and iv.state == "agent"


def test_the_toast_asked_about_is_the_event_the_pointer_made(iv: Intervention) -> None:
    toast_click = ev(Kind.BUTTON_DOWN, 1)

    class ToastUnder(FakeOverlay):
        def under(self, e: InputEvent) -> bool:  # only that one click is on the toast
            return e is toast_click

    iv.overlay = ToastUnder()
    seen = tapped(iv)
    iv.on_input(toast_click)
    assert iv.state == "agent" and seen == [(toast_click, False)]
    elsewhere = ev(Kind.BUTTON_DOWN, 3)
    iv.on_input(elsewhere)
    assert iv.state == "human" and seen[-1] == (elsewhere, True)


def test_the_kill_switchs_key_is_no_demonstration_but_its_release_lets_go(iv: Intervention) -> None:
    """The chord's modifiers went to the recorder as the person's before the chord was
    complete: their releases must follow, or a recording would hold ctrl+alt forever."""
    seen = tapped(iv)
    ctrl, alt, end = (keysym_for_name(n) for n in ("ctrl", "alt", "End"))
    presses = [ev(Kind.KEY_DOWN, k) for k in (ctrl, alt, end)]
    for e in presses:
        iv.on_input(e)
    assert iv.state == "stopped"
    assert seen == [(presses[0], True), (presses[1], True), (presses[2], False)]
    releases = [ev(Kind.KEY_UP, k) for k in (end, alt, ctrl)]
    for e in releases:
        iv.on_input(e)
    assert seen[3:] == [(e, True) for e in releases] and iv.state == "stopped"


class UnmappedToast(FakeOverlay):
    """A toast whose window the watch has not seen mapped yet: nothing is mapped (clear),
    but the window under the pointer is ours."""

    def clear(self) -> bool:
        return True


def test_the_pointer_is_asked_only_while_a_toast_is_up_or_an_overlay_window_mapped(iv: Intervention) -> None:
    # the person's motion on an idle desktop costs the observer no round trip to the server
    overlay = UnmappedToast()
    iv.overlay = overlay
    iv.toast_opened()  # the gate put up an undo window; its MapNotify may come later
    iv.on_input(ev(Kind.MOTION))
    assert overlay.asked == 1 and iv.state == "agent"  # reaching the toast: review input
    iv.toast_closed()
    iv.on_input(ev(Kind.MOTION))
    assert overlay.asked == 1  # nothing up, nothing mapped: not asked
    assert iv.state == "human"  # and the motion is a takeover


def test_two_toasts_up_keep_the_pointer_asked_until_both_are_gone(iv: Intervention) -> None:
    overlay = UnmappedToast()
    iv.overlay = overlay
    iv.toast_opened()
    iv.toast_opened()  # two undo windows at once (two agents' actions)
    iv.toast_closed()
    iv.on_input(ev(Kind.MOTION))
    assert overlay.asked == 1 and iv.state == "agent"  # one is still up
    iv.toast_closed()
    iv.on_input(ev(Kind.MOTION))
    assert overlay.asked == 1 and iv.state == "human"
