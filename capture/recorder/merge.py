"""Merge a person's raw input events into the actions an agent would issue.

Pure logic: events in (with explicit timestamps), actions out; no X, no clock of its own.
:meth:`Merger.feed` takes one event, :meth:`Merger.tick` lets timeouts pass (a pending
click waits for a second click, a typing burst for its pause), :meth:`Merger.flush`
ends everything at stop. Every action carries ``start`` (its first event, a held
modifier included) and ``end`` (its last event), in the clock of the events.

The rules, as an agent would have issued the same thing:
- button down + up within the drag threshold -> ``Click``; another press of the same
  button within the double-click time and threshold -> the same click, ``count`` 2, then
  3 (a triple click is emitted at once); the position is the first press's;
- moving beyond the threshold with a button held -> ``Drag`` with its path;
- wheel buttons (4-7) -> ``Scroll``; consecutive wheel clicks in one direction merge;
- keys that type a character (shift resolved through the key's level-1 keysym) ->
  ``TypeText``; BackSpace edits the burst; a pause of ``burst_pause_s`` or Enter (kept as
  a final newline) ends it; shift + letters is typing, never a combo;
- anything else (a key with ctrl, alt or super held, or a key that types nothing:
  Escape, F5, arrows, Tab, Enter alone) -> ``KeyCombo`` in xdotool's spelling;
- the pause hotkey toggles recording (``PauseToggled``); its own keys never appear.

- dead keys and compose (``Multi_key``) sequences are resolved as the X input method
  does (:mod:`capture.recorder.compose`): ``dead_acute`` + ``e`` types ``é`` in the burst.

Not resolved: AltGr levels, Caps Lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from Xlib import XK

from capture.input import Kind
from capture.input.keys import char_for_keysym, keysym_name, parse_combo
from capture.recorder.compose import ComposeTable, table

__all__ = [
    "Click",
    "Drag",
    "HumanAction",
    "KeyCombo",
    "Merger",
    "PauseToggled",
    "RawEvent",
    "Scroll",
    "Settings",
    "TypeText",
]

WHEEL: dict[int, tuple[int, int]] = {4: (0, -1), 5: (0, 1), 6: (-1, 0), 7: (1, 0)}
BUTTONS: dict[int, str] = {1: "left", 2: "middle", 3: "right"}
MAX_PATH = 5_000  # daemon.actions.MAX_PATH: a longer drag path is thinned evenly

# keysym -> the modifier's name in a combo ("ctrl+s"); left and right are the same key
_MODIFIERS: dict[int, str] = {
    XK.XK_Control_L: "ctrl", XK.XK_Control_R: "ctrl",
    XK.XK_Alt_L: "alt", XK.XK_Alt_R: "alt", XK.XK_Meta_L: "alt", XK.XK_Meta_R: "alt",
    XK.XK_Shift_L: "shift", XK.XK_Shift_R: "shift",
    XK.XK_Super_L: "super", XK.XK_Super_R: "super", XK.XK_Hyper_L: "super",
    XK.XK_Hyper_R: "super", 0xFE03: "altgr",  # ISO_Level3_Shift (AltGr)
}  # fmt: skip
_ORDER = ("ctrl", "alt", "shift", "super")
_ENTER = {XK.XK_Return, XK.XK_KP_Enter}
# the canonical spelling for the pause hotkey's comparison: left == right
_SAME = {XK.XK_Control_R: XK.XK_Control_L, XK.XK_Shift_R: XK.XK_Shift_L,
         XK.XK_Alt_R: XK.XK_Alt_L, XK.XK_Super_R: XK.XK_Super_L, XK.XK_Meta_R: XK.XK_Meta_L}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One human input event. ``t`` is seconds on the clock frames are stamped with;
    ``x, y`` the pointer's screen position (None when unknown, e.g. key events);
    ``keysym``/``shifted`` the key's level-0 and level-1 keysyms (0: none)."""

    kind: Kind
    t: float
    code: int = 0
    x: int | None = None
    y: int | None = None
    keysym: int = 0
    shifted: int = 0


@dataclass(frozen=True, slots=True)
class Settings:
    """Thresholds; the desktop's own double-click time and drag threshold where published."""

    double_click_s: float = 0.5
    drag_threshold: int = 5
    burst_pause_s: float = 1.5
    scroll_gap_s: float = 0.5
    pause_hotkey: str = "ctrl+alt+p"


@dataclass(frozen=True, slots=True)
class HumanAction:
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Click(HumanAction):
    x: int
    y: int
    button: str = "left"
    count: int = 1
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Drag(HumanAction):
    path: tuple[tuple[int, int], ...] = ()
    button: str = "left"
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Scroll(HumanAction):
    x: int = 0
    y: int = 0
    dx: int = 0  # wheel clicks, + is right
    dy: int = 0  # wheel clicks, + is down
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TypeText(HumanAction):
    text: str = ""


@dataclass(frozen=True, slots=True)
class KeyCombo(HumanAction):
    keys: str = ""  # xdotool style: "ctrl+s", "Escape", "shift+Right"


@dataclass(frozen=True, slots=True)
class PauseToggled:
    """Not an action: the pause hotkey was pressed; ``paused`` is the new state."""

    t: float
    paused: bool


Emitted = HumanAction | PauseToggled


@dataclass
class _Press:
    button: int
    start: float
    x: int
    y: int
    modifiers: tuple[str, ...]
    continues: bool  # the 2nd or 3rd press of a pending click
    path: list[tuple[int, int]] = field(default_factory=list)
    dragging: bool = False
    last: float = 0.0  # the press's latest event


class Merger:
    """The merging state machine; not thread-safe (one thread feeds it)."""

    def __init__(self, settings: Settings | None = None, compose: ComposeTable | None = None) -> None:
        self.settings = settings or Settings()
        self._table = compose if compose is not None else table()
        self._compose: tuple[int, ...] = ()  # a dead key or compose sequence under way
        self._hotkey = frozenset(_SAME.get(k, k) for k in parse_combo(self.settings.pause_hotkey).keysyms)
        self.paused = False
        self._keys: dict[int, tuple[int, float]] = {}  # keycode -> (keysym, pressed at)
        self._hotkey_release: set[int] = set()
        self._pos: tuple[int, int] = (0, 0)
        self._press: _Press | None = None
        self._click: Click | None = None
        self._click_down = 0.0  # when the pending click's last press went down
        self._scroll: Scroll | None = None
        self._text: list[str] = []
        self._text_start = 0.0
        self._text_last = 0.0

    # -- input ------------------------------------------------------------------------
    def feed(self, ev: RawEvent) -> list[Emitted]:
        """Take one event; returns what it completed, oldest first."""
        out: list[Emitted] = list(self.tick(ev.t))
        if ev.x is not None and ev.y is not None:
            self._pos = (ev.x, ev.y)
        if ev.kind is Kind.KEY_DOWN:
            out += self._key_down(ev)
        elif ev.kind is Kind.KEY_UP:
            self._keys.pop(ev.code, None)
            self._hotkey_release.discard(ev.code)
        elif self.paused:
            pass
        elif ev.kind is Kind.BUTTON_DOWN:
            out += self._button_down(ev)
        elif ev.kind is Kind.BUTTON_UP:
            out += self._button_up(ev)
        elif ev.kind is Kind.MOTION:
            out += self._motion(ev)
        return out

    def tick(self, now: float) -> list[HumanAction]:
        """Emit what timed out by ``now`` (a click nobody doubled, a finished burst)."""
        s = self.settings
        out: list[HumanAction] = []
        if self._click is not None and self._press is None and now - self._click_down > s.double_click_s:
            out.append(self._take_click())
        if self._scroll is not None and now - self._scroll.end > s.scroll_gap_s:
            out.append(self._take_scroll())
        if self.typing and now - self._text_last > s.burst_pause_s:
            out += self._take_text_if_any()
        return sorted(out, key=lambda a: a.start)

    def flush(self) -> list[HumanAction]:
        """End everything pending (at stop): a press still held counts as it stands."""
        out: list[HumanAction] = []
        if self._press is not None:
            p, self._press = self._press, None
            out += self._release(p, self._pos, max(p.start, p.last))
        out += self._pending()
        return sorted(out, key=lambda a: a.start)

    def next_deadline(self) -> float | None:
        """When :meth:`tick` may next emit something, or None if nothing waits."""
        s = self.settings
        times = []
        if self._click is not None and self._press is None:
            times.append(self._click_down + s.double_click_s)
        if self._scroll is not None:
            times.append(self._scroll.end + s.scroll_gap_s)
        if self.typing:
            times.append(self._text_last + s.burst_pause_s)
        return min(times) if times else None

    def pending_since(self) -> float | None:
        """The start of the earliest action not yet emitted (a held modifier included):
        the frame from before this time is the one that action will want."""
        times = [at for ks, at in self._keys.values() if ks in _MODIFIERS]
        if self._press is not None:
            times.append(self._press.start)
        if self._click is not None:
            times.append(self._click.start)
        if self._scroll is not None:
            times.append(self._scroll.start)
        if self.typing:
            times.append(self._text_start)
        return min(times) if times else None

    @property
    def typing(self) -> bool:
        """A typing burst (or a compose sequence) is under way."""
        return bool(self._text or self._compose)

    def is_modifier(self, ev: RawEvent) -> bool:
        return ev.keysym in _MODIFIERS or ev.shifted in _MODIFIERS

    # -- keys -------------------------------------------------------------------------
    def _modifiers(self, *, shift: bool = True) -> tuple[str, ...]:
        held = {_MODIFIERS[ks] for ks, _ in self._keys.values() if ks in _MODIFIERS}
        return tuple(m for m in _ORDER if m in held and (shift or m != "shift"))

    def _key_down(self, ev: RawEvent) -> list[Emitted]:
        shift = "shift" in self._modifiers()
        ks = ev.shifted if shift and ev.shifted else ev.keysym
        self._keys[ev.code] = (ks, ev.t)
        held = {_SAME.get(k, k) for k, _ in self._keys.values()}
        if self._hotkey <= held and _SAME.get(ks, ks) in self._hotkey:
            self._hotkey_release |= set(self._keys)
            out: list[Emitted] = [] if self.paused else list(self._pending())
            self.paused = not self.paused
            self._press = None
            out.append(PauseToggled(ev.t, self.paused))
            return out
        if self.paused or ks in _MODIFIERS:
            return []
        chord = self._modifiers(shift=False)
        if not chord and (self._compose or self._table.starts(ks)):
            return self._compose_key(ks, ev.t)
        if not chord:
            if ks == XK.XK_BackSpace and self._text:
                self._text.pop()
                self._text_last = ev.t
                return []
            if ks in _ENTER and self._text:
                self._text.append("\n")
                self._text_last = ev.t
                return [self._take_text()]
            ch = char_for_keysym(ks)
            if ch is not None and ch not in "\n\t":
                out = [] if self._text else list(self._pending())
                if not self._text:
                    self._text_start = self._chord_start(ev.t)
                self._text.append(ch)
                self._text_last = ev.t
                return out
        out = list(self._pending())
        # a combo names the key by its level-0 keysym: ctrl+shift+t, not ctrl+shift+T
        mods = self._modifiers()
        base = ev.keysym or ks
        keys = "+".join((*mods, keysym_name(base)))
        out.append(KeyCombo(self._chord_start(ev.t), ev.t, keys))
        return out

    def _compose_key(self, ks: int, t: float) -> list[Emitted]:
        """A key of a dead key or compose sequence: typed text once the sequence is whole."""
        out: list[Emitted] = [] if self.typing else list(self._pending())
        if not self.typing:
            self._text_start = self._chord_start(t)
        self._compose = (*self._compose, ks)
        step = self._table.step(self._compose)
        self._text_last = t
        if step.more:
            return out
        self._compose = ()
        self._text += list(step.text)
        return out

    def _chord_start(self, t: float) -> float:
        """The action starts with the first modifier still held for it."""
        held = [at for ks, at in self._keys.values() if ks in _MODIFIERS]
        return min([t, *held])

    # -- buttons ----------------------------------------------------------------------
    def _button_down(self, ev: RawEvent) -> list[HumanAction]:
        x, y = self._pos
        s = self.settings
        if ev.code in WHEEL:
            dx, dy = WHEEL[ev.code]
            out = self._take_text_and_click()
            sc = self._scroll
            mods = self._modifiers()
            same_way = (
                sc is not None
                and (sc.dx > 0) == (dx > 0) and (sc.dx < 0) == (dx < 0)
                and (sc.dy > 0) == (dy > 0) and (sc.dy < 0) == (dy < 0)
                and sc.modifiers == mods
                and max(abs(sc.x - x), abs(sc.y - y)) <= s.drag_threshold
            )  # fmt: skip
            if sc is not None and same_way:
                self._scroll = replace(sc, end=ev.t, dx=sc.dx + dx, dy=sc.dy + dy)
            else:
                if sc is not None:
                    out.append(self._take_scroll())
                self._scroll = Scroll(self._chord_start(ev.t), ev.t, x, y, dx, dy, mods)
            return out
        if ev.code not in BUTTONS or self._press is not None:
            return []  # back/forward buttons; a second button during a press
        out = self._take_text_if_any()
        if self._scroll is not None:
            out.append(self._take_scroll())
        c = self._click
        continues = (
            c is not None
            and c.button == BUTTONS[ev.code]
            and ev.t - self._click_down <= s.double_click_s
            and max(abs(c.x - x), abs(c.y - y)) <= s.drag_threshold
        )
        if c is not None and not continues:
            out.append(self._take_click())
        mods = self._modifiers()
        self._press = _Press(ev.code, self._chord_start(ev.t), x, y, mods, continues, [(x, y)])
        if continues:
            self._click_down = ev.t
        return out

    def _motion(self, ev: RawEvent) -> list[HumanAction]:
        p = self._press
        if p is None:
            return []
        x, y = self._pos
        out: list[HumanAction] = []
        if not p.dragging and max(abs(x - p.x), abs(y - p.y)) > self.settings.drag_threshold:
            p.dragging = True
            if p.continues and self._click is not None:
                # a click, then a press that became a drag: the click stands on its own
                out.append(self._take_click())
                p.continues = False
        if p.path[-1] != (x, y):
            p.path.append((x, y))
        p.last = ev.t
        return out

    def _button_up(self, ev: RawEvent) -> list[HumanAction]:
        p = self._press
        if p is None or ev.code != p.button:
            return []
        self._press = None
        return self._release(p, self._pos, ev.t)

    def _release(self, p: _Press, pos: tuple[int, int], t: float) -> list[HumanAction]:
        x, y = pos
        button = BUTTONS[p.button]
        if p.dragging or max(abs(x - p.x), abs(y - p.y)) > self.settings.drag_threshold:
            path = p.path if p.path[-1] == (x, y) else [*p.path, (x, y)]
            if len(path) > MAX_PATH:
                step = (len(path) - 1) / (MAX_PATH - 1)
                path = [path[round(i * step)] for i in range(MAX_PATH)]
            return [Drag(p.start, t, tuple(path), button, p.modifiers)]
        if p.continues and self._click is not None:
            self._click = replace(self._click, end=t, count=self._click.count + 1)
            if self._click.count >= 3:
                return [self._take_click()]
            return []
        self._click = Click(p.start, t, p.x, p.y, button, 1, p.modifiers)
        self._click_down = p.start
        return []

    # -- pending ----------------------------------------------------------------------
    def _pending(self) -> list[HumanAction]:
        out: list[HumanAction] = []
        if self._click is not None:
            out.append(self._take_click())
        if self._scroll is not None:
            out.append(self._take_scroll())
        out += self._take_text_if_any()
        return sorted(out, key=lambda a: a.start)

    def _take_text_if_any(self) -> list[HumanAction]:
        """The burst, if it typed anything (a dead key alone at its end types nothing)."""
        self._compose = ()
        return [self._take_text()] if self._text else []

    def _take_text_and_click(self) -> list[HumanAction]:
        out: list[HumanAction] = []
        if self._click is not None:
            out.append(self._take_click())
        out += self._take_text_if_any()
        return sorted(out, key=lambda a: a.start)

    def _take_click(self) -> Click:
        c, self._click = self._click, None
        assert c is not None
        return c

    def _take_scroll(self) -> Scroll:
        s, self._scroll = self._scroll, None
        assert s is not None
        return s

    def _take_text(self) -> TypeText:
        text, self._text = "".join(self._text), []
        return TypeText(self._text_start, self._text_last, text)
