"""The intervention promise on a real X server: agent input through XTest, a simulated
human on a second master device, a foreign injector (xdotool), a real target window."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from Xlib import X, display

from capture.input.keys import char_for_keysym
from daemon.actions import parse_action
from daemon.control.runtime import Runtime
from tests.x11.human import SimulatedHuman
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

SHIFT = 0xFFE1


@pytest.fixture
def rt(xserver: str) -> Iterator[Runtime]:
    r = Runtime(display=xserver, resume_after=0.3)
    yield r
    r.close()


def wait_state(rt: Runtime, state: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rt.intervention.state == state:
            return True
        time.sleep(0.01)
    return False


def typed_text(events: list[dict], sources: set[int] | None = None) -> str:  # type: ignore[type-arg]
    return "".join(
        char_for_keysym(e["keysym"]) or "?"
        for e in events
        if e["type"] == "key_press" and e["keysym"] != SHIFT and (sources is None or e["sourceid"] in sources)
    )


def keys_down(name: str) -> list[int]:
    """Key codes the X server holds down (XQueryKeymap), whoever pressed them."""
    d = display.Display(name)
    try:
        bits = d.query_keymap()
    finally:
        d.close()
    return [i * 8 + b for i, byte in enumerate(bits) for b in range(8) if byte & (1 << b)]


def pointer_buttons(name: str) -> int:
    d = display.Display(name)
    try:
        return int(d.screen().root.query_pointer().mask) & (
            X.Button1Mask | X.Button2Mask | X.Button3Mask
        )
    finally:
        d.close()


def ours(rt: Runtime) -> set[int]:
    return set(rt.backend._ours)  # type: ignore[attr-defined]


def test_unicode_text_arrives_exactly(rt: Runtime, target: TargetWindow) -> None:
    text = "héllo wörld ✓ 你好 — Ünïcödé ß€ 🙂 ABC!?"
    out = rt.run(parse_action({"action": "type", "text": text}))
    assert out.status == "executed"
    assert target.wait_for(lambda: typed_text(target.events) == text, timeout=5), typed_text(target.snapshot())


def test_many_distinct_unmapped_characters_survive_spare_key_reuse(rt: Runtime, target: TargetWindow) -> None:
    # more distinct characters than spare keycodes: slots are recycled
    text = "".join(chr(0x4E00 + i) for i in range(60))
    assert rt.run(parse_action({"action": "type", "text": text})).status == "executed"
    assert target.wait_for(lambda: typed_text(target.events) == text, timeout=10), typed_text(target.snapshot())


def test_agent_only_stream_raises_no_takeover(rt: Runtime, target: TargetWindow) -> None:
    actions = [
        {"action": "move", "x": 100, "y": 100},
        {"action": "click", "x": 200, "y": 150, "count": 2},
        {"action": "drag", "path": [[300, 300], [600, 400], [700, 200]], "duration": 0.2},
        {"action": "scroll", "x": 500, "y": 500, "dy": 3, "dx": -2},
        {"action": "key", "keys": "ctrl+a shift+Tab Escape"},
        {"action": "type", "text": "Agent-only stream: no takeover ✓"},
        {"action": "click", "x": 50, "y": 60, "button": "right", "modifiers": ["ctrl", "shift"]},
        {"action": "hold_key", "keys": "shift", "duration": 0.1},
        {"action": "mouse_down", "x": 10, "y": 10},
        {"action": "mouse_up"},
    ]
    for _ in range(3):
        for a in actions:
            out = rt.run(parse_action(a))
            assert out.status == "executed", (a, out.detail)
    assert rt.intervention.takeovers == 0
    assert rt.intervention.state == "agent"
    # every primitive came back from the server and was matched in the ledger
    deadline = time.monotonic() + 2
    while len(rt.backend.ledger) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(rt.backend.ledger) == 0


def _interrupt_typing(rt: Runtime, target: TargetWindow, takeover) -> tuple:  # type: ignore[no-untyped-def]
    text = "the quick brown fox jumps over the lazy dog " * 6
    fut = rt.executor.submit(parse_action({"action": "type", "text": text}))
    src = ours(rt)
    assert target.wait_for(lambda: len(typed_text(target.events, src)) >= 20, timeout=5)
    takeover()
    out = fut.result(timeout=5)
    return out, text, src


def _assert_nothing_after(events: list[dict], src: set[int], first_human: int) -> None:  # type: ignore[type-arg]
    leaked = [e for e in events[first_human:] if e["type"] == "key_press" and e["sourceid"] in src]
    assert leaked == [], f"agent keystrokes after the person's click: {leaked[:3]}"


def test_human_click_stops_typing_and_nothing_leaks(
    rt: Runtime, target: TargetWindow, human: SimulatedHuman, xserver: str
) -> None:
    out, text, src = _interrupt_typing(rt, target, lambda: human.click(900, 500))
    assert out.status == "interrupted"
    assert out.control == "human"
    assert out.progress is not None and 20 <= out.progress.done < len(text)
    assert f"{out.progress.done} of {len(text)}" in out.detail
    assert target.wait_for(lambda: any(e["sourceid"] in human.xtest_ids for e in target.events))
    events = target.snapshot()
    first_human = next(i for i, e in enumerate(events) if e["sourceid"] in human.xtest_ids)
    _assert_nothing_after(events, src, first_human)
    # exactly what was reported as typed reached the window
    assert typed_text(events, src) == text[: out.progress.done]
    assert keys_down(xserver) == []
    # later actions come back at once, not queued behind the person
    t0 = time.monotonic()
    later = rt.run(parse_action({"action": "type", "text": "never"}))
    assert later.status == "interrupted" and time.monotonic() - t0 < 0.2
    # and the agent gets control back once the person is idle
    assert wait_state(rt, "agent")
    resumed = rt.run(parse_action({"action": "key", "keys": "Return"}))
    assert resumed.status == "executed"
    assert resumed.human_activity is not None
    assert [(c.x, c.y) for c in resumed.human_activity.clicks] == [(900, 500)]


def test_foreign_injector_is_treated_as_human(rt: Runtime, target: TargetWindow, xserver: str) -> None:
    def xdotool_key() -> None:
        subprocess.run(["xdotool", "key", "F13"], check=True, env={"DISPLAY": xserver, "PATH": "/usr/bin:/bin"})

    out, _, _ = _interrupt_typing(rt, target, xdotool_key)
    assert out.status == "interrupted"
    events = target.snapshot()
    # xdotool types through the same core XTEST device: the first key that is not in
    # the text we were typing marks its arrival
    foreign = [i for i, e in enumerate(events) if e["type"] == "key_press" and e["keysym"] == 0xFFCA]
    assert foreign, "xdotool's key never arrived"
    leaked = [e for e in events[foreign[0] + 1 :] if e["type"] == "key_press"]
    assert leaked == []
    assert keys_down(xserver) == []
    assert rt.intervention.snapshot()["takeovers"] == 1


def test_interruption_mid_drag_releases_the_button(
    rt: Runtime, target: TargetWindow, human: SimulatedHuman, xserver: str
) -> None:
    fut = rt.executor.submit(
        parse_action({"action": "drag", "path": [[100, 100], [1800, 900]], "duration": 3.0})
    )
    src = ours(rt)
    assert target.wait_for(
        lambda: any(e["type"] == "button_press" and e["sourceid"] in src for e in target.events)
    )
    assert pointer_buttons(xserver) != 0
    human.move(1000, 20)
    out = fut.result(timeout=5)
    assert out.status == "interrupted"
    assert out.progress is not None and out.progress.done == 1  # the press, not the end point
    assert target.wait_for(
        lambda: any(e["type"] == "button_release" and e["sourceid"] in src for e in target.events)
    )
    assert pointer_buttons(xserver) == 0


def test_kill_switch_stops_until_resumed(rt: Runtime, human: SimulatedHuman) -> None:
    human.combo("Control_L", "Alt_L", "End")
    assert wait_state(rt, "stopped")
    # idle does not resume a stop
    assert not wait_state(rt, "agent", timeout=0.8)
    assert rt.run(parse_action({"action": "key", "keys": "a"})).status == "interrupted"
    human.combo("Control_L", "Alt_L", "End")
    assert wait_state(rt, "agent")
    assert rt.run(parse_action({"action": "key", "keys": "Escape"})).status == "executed"


def test_api_stop_and_resume(rt: Runtime) -> None:
    rt.intervention.stop()
    assert rt.run(parse_action({"action": "key", "keys": "a"})).status == "interrupted"
    rt.intervention.resume()
    assert rt.run(parse_action({"action": "key", "keys": "Escape"})).status == "executed"


def test_close_releases_what_is_held(xserver: str) -> None:
    r = Runtime(display=xserver)
    done = threading.Event()
    try:
        r.run(parse_action({"action": "mouse_down", "x": 400, "y": 400}))
        r.executor.submit(parse_action({"action": "hold_key", "keys": "shift", "duration": 30})).add_done_callback(
            lambda f: done.set()
        )
        deadline = time.monotonic() + 3
        while not keys_down(xserver) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert keys_down(xserver) != []
        assert pointer_buttons(xserver) != 0
    finally:
        r.close()
    assert done.wait(2)
    assert keys_down(xserver) == []
    assert pointer_buttons(xserver) == 0
