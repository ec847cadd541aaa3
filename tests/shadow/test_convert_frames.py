"""Recorded actions -> canonical actions and pyautogui code; the frame ring's choice."""

from __future__ import annotations

import numpy as np
import pytest

from capture.coords import Rect
from capture.recorder import Click, Drag, KeyCombo, Scroll, TypeText
from capture.recorder.frames import FrameRing, same_pixels
from capture.screen import Frame
from daemon.actions import parse_action
from daemon.shadow.convert import canonical, points, pyautogui_code


@pytest.mark.parametrize(
    ("recorded", "code"),
    [
        (Click(0, 0.1, 10, 20), "pyautogui.click(x=10, y=20)"),
        (Click(0, 0.1, 10, 20, "right", 2), "pyautogui.doubleClick(x=10, y=20, button='right')"),
        (Click(0, 0.1, 10, 20, count=3, modifiers=("ctrl",)),
         "pyautogui.keyDown('ctrl')\npyautogui.tripleClick(x=10, y=20)\npyautogui.keyUp('ctrl')"),
        (Drag(0, 0.5, ((1, 2), (5, 6), (30, 40))),
         "pyautogui.moveTo(1, 2)\npyautogui.dragTo(30, 40, duration=0.5, button='left')"),
        (Scroll(0, 0, 5, 6, 0, 3), "pyautogui.scroll(-3, x=5, y=6)"),
        (Scroll(0, 0, 5, 6, -2, 0), "pyautogui.hscroll(-2, x=5, y=6)"),
        (TypeText(0, 1, "hello wörld\n"), "pyautogui.write('hello wörld\\n')"),
        (KeyCombo(0, 0, "ctrl+shift+t"), "pyautogui.hotkey('ctrl', 'shift', 't')"),
        (KeyCombo(0, 0, "Return"), "pyautogui.press('enter')"),
        (KeyCombo(0, 0, "Escape"), "pyautogui.press('esc')"),
    ],
)  # fmt: skip
def test_canonical_and_pyautogui(recorded: object, code: str) -> None:
    action = canonical(recorded)  # type: ignore[arg-type]
    assert parse_action(action).action == action["action"]
    assert action["space"] == "screen"
    assert pyautogui_code(action) == code


def test_points_of_a_drag_are_its_ends() -> None:
    action = canonical(Drag(0, 1, ((1, 2), (5, 6), (30, 40))))
    assert points(action) == [(1, 2), (30, 40)]
    assert points(canonical(TypeText(0, 1, "x"))) == []


def test_an_unnameable_key_is_refused() -> None:
    with pytest.raises(ValueError, match="not a canonical action"):
        canonical(KeyCombo(0, 0, "0x1234567"))


def _frame(value: int) -> Frame:
    return Frame(np.full((4, 4, 4), value, np.uint8), Rect(0, 0, 4, 4))


def test_ring_gives_the_last_distinct_frame_first_seen_before_a_time() -> None:
    grabs = iter([_frame(1), _frame(1), _frame(2), _frame(2), _frame(3)])
    now = iter([1.0, 2.0, 3.0, 4.0, 5.0])
    ring = FrameRing(lambda: next(grabs), clock=lambda: next(now), size=2)
    entries = [ring.grab_now() for _ in range(5)]
    assert entries[0] is entries[1] and entries[2] is entries[3]  # same pixels kept once
    assert ring.before(4.5) is entries[2]  # first seen at 3.0, still on screen at 4.0
    assert ring.before(3.0) is None  # frame 1 left the ring of two distinct frames
    assert ring.latest() is entries[4] and ring.last_grab == 5.0


@pytest.mark.parametrize("shape", [(1080, 1920, 4), (3, 5, 4), (3, 3, 3)])
def test_a_grab_differing_in_one_byte_is_distinct(shape: tuple[int, int, int]) -> None:
    """Whole-word comparison (an even number of pixels) and byte by byte (the rest): one
    byte anywhere, the first, one in the middle, the padding byte of the last pixel, tells
    two grabs apart; equal grabs are the same; another shape is never the same."""
    a = np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)
    assert same_pixels(a, a.copy())
    for index in (0, a.size // 2 + 1, a.size - 1):
        b = a.copy()
        b.reshape(-1)[index] ^= 1
        assert not same_pixels(a, b)
    assert not same_pixels(a, a[:-1])
    assert not same_pixels(a, a.astype(np.uint16))


def test_a_strided_grab_is_compared_byte_by_byte() -> None:
    whole = np.zeros((8, 8, 4), np.uint8)
    left, right = whole[:, :4], whole[:, 4:]  # not contiguous: as a window's part of a grab
    assert same_pixels(left, right)
    whole[7, 7, 3] = 1
    assert not same_pixels(left, right)
