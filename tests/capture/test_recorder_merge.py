"""The merger on synthetic event streams: explicit timestamps, no X, no sleeps."""

from __future__ import annotations

from Xlib import XK

from capture.input import Kind
from capture.recorder.merge import (
    Click,
    Drag,
    HumanAction,
    KeyCombo,
    Merger,
    PauseToggled,
    RawEvent,
    Scroll,
    Settings,
    TypeText,
)

# keycode -> (level 0, level 1) as a US keyboard has them
KEYS: dict[str, tuple[int, int, int]] = {
    "shift": (50, XK.XK_Shift_L, 0), "ctrl": (37, XK.XK_Control_L, 0),
    "alt": (64, XK.XK_Alt_L, XK.XK_Meta_L), "Return": (36, XK.XK_Return, 0),
    "BackSpace": (22, XK.XK_BackSpace, 0), "Escape": (9, XK.XK_Escape, 0),
    "space": (65, XK.XK_space, 0), "Tab": (23, XK.XK_Tab, 0), "Right": (114, XK.XK_Right, 0),
    "odiaeresis": (200, XK.XK_odiaeresis, XK.XK_Odiaeresis), "1": (10, XK.XK_1, XK.XK_exclam),
}  # fmt: skip
for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz"):
    KEYS[ch] = (100 + i, ord(ch), ord(ch.upper()))


class Stream:
    """Builds events on a fake clock and feeds them; ``actions`` collects the output."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.m = Merger(settings)
        self.t = 100.0
        self.out: list[HumanAction | PauseToggled] = []

    def at(self, dt: float) -> Stream:
        self.t += dt
        return self

    def _feed(self, ev: RawEvent) -> None:
        self.out += self.m.feed(ev)

    def key(self, name: str, down: bool) -> None:
        code, ks, sh = KEYS[name]
        self._feed(RawEvent(Kind.KEY_DOWN if down else Kind.KEY_UP, self.t, code, keysym=ks, shifted=sh))
        self.t += 0.01

    def tap(self, name: str) -> None:
        self.key(name, True)
        self.key(name, False)

    def type(self, text: str) -> None:
        for ch in text:
            if ch == " ":
                self.tap("space")
            elif ch.isupper():
                self.key("shift", True)
                self.tap(ch.lower())
                self.key("shift", False)
            elif ch == "ö":
                self.tap("odiaeresis")
            else:
                self.tap(ch)

    def move(self, x: int, y: int) -> None:
        self._feed(RawEvent(Kind.MOTION, self.t, 0, x, y))
        self.t += 0.01

    def button(self, b: int, down: bool, x: int, y: int) -> None:
        self._feed(RawEvent(Kind.BUTTON_DOWN if down else Kind.BUTTON_UP, self.t, b, x, y))
        self.t += 0.01

    def click(self, x: int, y: int, b: int = 1) -> None:
        self.button(b, True, x, y)
        self.button(b, False, x, y)

    def tick(self, dt: float) -> None:
        self.t += dt
        self.out += self.m.tick(self.t)

    def flush(self) -> list[HumanAction | PauseToggled]:
        self.out += self.m.flush()
        return self.out

    def actions(self) -> list[HumanAction]:
        return [a for a in self.flush() if isinstance(a, HumanAction)]


def test_single_click_waits_for_the_double_click_time_then_comes_out() -> None:
    s = Stream()
    s.move(10, 10)
    s.click(100, 200)
    s.tick(0.3)
    assert s.out == []  # it could still become a double click
    s.tick(0.3)
    assert len(s.out) == 1
    c = s.out[0]
    assert isinstance(c, Click) and (c.x, c.y, c.button, c.count) == (100, 200, "left", 1)


def test_double_and_triple_clicks_and_the_distance_that_breaks_them() -> None:
    s = Stream()
    s.click(100, 200)
    s.at(0.1).click(102, 201)
    s.tick(1.0)
    s.click(300, 300)
    s.at(0.1).click(301, 300)
    s.at(0.1).click(300, 301)  # the third press emits at once
    s.at(0.1).click(500, 500)
    s.at(0.1).click(520, 500)  # 20 px away: two single clicks
    acts = s.actions()
    assert [(a.x, a.y, a.count) for a in acts if isinstance(a, Click)] == [
        (100, 200, 2), (300, 300, 3), (500, 500, 1), (520, 500, 1),
    ]  # fmt: skip


def test_too_slow_for_a_double_click_is_two_clicks() -> None:
    s = Stream(Settings(double_click_s=0.4))
    s.click(10, 10)
    s.at(0.45).click(10, 10)
    assert [a.count for a in s.actions() if isinstance(a, Click)] == [1, 1]


def test_drag_keeps_its_path_and_a_small_wobble_is_a_click() -> None:
    s = Stream()
    s.button(1, True, 100, 100)
    for x in range(102, 160, 10):
        s.move(x, 100 + (x - 100) // 2)
    s.button(1, False, 160, 130)
    s.button(1, True, 400, 400)
    s.move(403, 402)  # within 5 px: still a click
    s.button(1, False, 403, 402)
    acts = s.actions()
    d, c = acts
    assert isinstance(d, Drag) and d.path[0] == (100, 100) and d.path[-1] == (160, 130)
    assert len(d.path) == 8 and d.button == "left"
    assert isinstance(c, Click) and (c.x, c.y) == (400, 400)


def test_scroll_merges_consecutive_wheel_clicks_one_way() -> None:
    s = Stream()
    s.move(500, 600)
    for _ in range(3):
        s.click(500, 600, 5)
    s.at(0.05)
    s.click(500, 600, 4)  # back up: a new scroll
    s.tick(1.0)
    s.click(500, 600, 7)
    acts = s.actions()
    assert [(a.dx, a.dy, a.x, a.y) for a in acts if isinstance(a, Scroll)] == [
        (0, 3, 500, 600), (0, -1, 500, 600), (1, 0, 500, 600),
    ]  # fmt: skip


def test_typing_with_shift_and_unicode_is_one_burst_until_a_pause() -> None:
    s = Stream()
    s.type("Hello wörld")
    s.tick(1.6)
    s.type("again")
    acts = s.actions()
    assert [a.text for a in acts if isinstance(a, TypeText)] == ["Hello wörld", "again"]
    first = acts[0]
    assert first.start == 100.0  # the shift press that began it


def test_enter_ends_a_burst_and_backspace_edits_it() -> None:
    s = Stream()
    s.type("hepp")
    s.tap("BackSpace")
    s.tap("BackSpace")
    s.type("llo")
    s.tap("Return")
    s.tap("Return")  # alone: a key
    s.tap("BackSpace")  # nothing to edit: a key
    acts = s.actions()
    assert acts[0] == TypeText(acts[0].start, acts[0].end, "hello\n")
    assert [a.keys for a in acts[1:] if isinstance(a, KeyCombo)] == ["Return", "BackSpace"]


def test_combos_use_level_zero_names_and_shift_letters_are_typing() -> None:
    s = Stream()
    s.type("ab")
    s.key("ctrl", True)
    s.tap("s")
    s.key("ctrl", False)
    s.key("ctrl", True)
    s.key("shift", True)
    s.tap("t")
    s.key("shift", False)
    s.key("ctrl", False)
    s.key("shift", True)
    s.tap("Right")
    s.key("shift", False)
    s.tap("Escape")
    s.tap("Tab")
    acts = s.actions()
    assert isinstance(acts[0], TypeText) and acts[0].text == "ab"
    assert [a.keys for a in acts[1:] if isinstance(a, KeyCombo)] == [
        "ctrl+s", "ctrl+shift+t", "shift+Right", "Escape", "Tab",
    ]  # fmt: skip
    assert acts[1].start < acts[1].end  # from the ctrl press


def test_modifiers_held_on_a_click_and_the_order_of_mixed_actions() -> None:
    s = Stream()
    s.type("x")
    s.key("ctrl", True)
    s.click(50, 60)
    s.key("ctrl", False)
    s.tick(1.0)
    acts = s.actions()
    assert isinstance(acts[0], TypeText)
    assert isinstance(acts[1], Click) and acts[1].modifiers == ("ctrl",)


def test_pause_hotkey_drops_everything_between_and_its_own_keys() -> None:
    s = Stream()
    s.type("ab")
    s.key("ctrl", True)
    s.key("alt", True)
    s.tap("p")
    s.key("alt", False)
    s.key("ctrl", False)
    s.type("secret")
    s.click(5, 5)
    s.key("ctrl", True)
    s.key("alt", True)
    s.tap("p")
    s.key("alt", False)
    s.key("ctrl", False)
    s.type("cd")
    out = s.flush()
    assert [type(o).__name__ for o in out] == ["TypeText", "PauseToggled", "PauseToggled", "TypeText"]
    assert [o.text for o in out if isinstance(o, TypeText)] == ["ab", "cd"]
    assert [o.paused for o in out if isinstance(o, PauseToggled)] == [True, False]


def test_flush_emits_what_is_pending_including_a_held_drag() -> None:
    s = Stream()
    s.type("par")
    s.button(1, True, 10, 10)
    s.move(40, 40)
    acts = s.actions()
    assert isinstance(acts[0], TypeText) and acts[0].text == "par"
    assert isinstance(acts[1], Drag) and acts[1].path == ((10, 10), (40, 40))


def test_next_deadline_says_when_to_tick() -> None:
    s = Stream()
    assert s.m.next_deadline() is None
    s.click(1, 1)
    deadline = s.m.next_deadline()
    assert deadline is not None
    assert s.m.tick(deadline - 0.001) == []
    assert len(s.m.tick(deadline + 0.001)) == 1
