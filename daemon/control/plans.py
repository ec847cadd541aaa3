"""Actions as streams of primitives: what the executor sends, one step at a time.

A plan is a generator so that work such as remapping a spare key for an unusual
character happens just before that character is typed, never ahead of a takeover.
Each step says whether it completes one *unit* of the action's progress (a
character, a click, a point of a drag path), so an interruption reports exactly
how far the action got.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from capture.input import InputBackend, Kind, Primitive
from capture.input.keys import Combo, keysym_for_name, parse_keys
from daemon.actions import (
    BUTTONS,
    Click,
    Drag,
    HoldKey,
    Key,
    MouseDown,
    MouseUp,
    Move,
    Scroll,
    Type,
    Wait,
)


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait this long (interruptibly) before the next step."""

    seconds: float


Step = tuple[Primitive | Pause, bool]  # (what to do, completes one unit of progress)
Interruptible = Callable[[float], bool]  # wait(seconds) -> True if interrupted


@dataclass(frozen=True, slots=True)
class Plan:
    steps: Iterator[Step]
    total: int
    unit: str


PlannedAction = Click | Move | Drag | MouseDown | MouseUp | Scroll | Type | Key | HoldKey | Wait


def plan(action: PlannedAction, backend: InputBackend, pause: Interruptible, step_interval: float) -> Plan:
    """The primitives for one input action."""
    if isinstance(action, Click):
        return Plan(_click(action, backend), action.count, "clicks")
    if isinstance(action, Move):
        return Plan(iter([(Primitive(Kind.MOTION, x=action.x, y=action.y), True)]), 1, "moves")
    if isinstance(action, Drag):
        return Plan(_drag(action, backend, step_interval), len(action.path), "path points")
    if isinstance(action, MouseUp):
        return Plan(_button(action, Kind.BUTTON_UP), 1, "button releases")
    if isinstance(action, MouseDown):
        return Plan(_button(action, Kind.BUTTON_DOWN), 1, "button presses")
    if isinstance(action, Scroll):
        return Plan(_scroll(action, backend), abs(action.dx) + abs(action.dy), "wheel clicks")
    if isinstance(action, Type):
        return Plan(_type(action.text, backend, pause), len(action.text), "characters")
    if isinstance(action, HoldKey):
        return Plan(_hold(action, backend), 1, "holds")
    if isinstance(action, Key):
        combos = parse_keys(action.keys)
        return Plan(_keys(combos, backend), len(combos), "key combos")
    if isinstance(action, Wait):
        return Plan(iter([(Pause(action.duration), True)]), 1, "waits")
    raise TypeError(f"no plan for {type(action).__name__}")


def _mod_codes(mods: tuple[str, ...], backend: InputBackend) -> list[int]:
    return [backend.key_code(keysym_for_name(m)) for m in mods]


def _click(a: Click, backend: InputBackend) -> Iterator[Step]:
    mods = _mod_codes(a.modifiers, backend)
    for m in mods:
        yield Primitive(Kind.KEY_DOWN, m), False
    yield Primitive(Kind.MOTION, x=a.x, y=a.y), False
    button = BUTTONS[a.button]
    for _ in range(a.count):
        yield Primitive(Kind.BUTTON_DOWN, button), False
        yield Primitive(Kind.BUTTON_UP, button), True
    for m in reversed(mods):
        yield Primitive(Kind.KEY_UP, m), False


def _drag(a: Drag, backend: InputBackend, step_interval: float) -> Iterator[Step]:
    mods = _mod_codes(a.modifiers, backend)
    button = BUTTONS[a.button]
    for m in mods:
        yield Primitive(Kind.KEY_DOWN, m), False
    x0, y0 = a.path[0]
    yield Primitive(Kind.MOTION, x=x0, y=y0), False
    yield Primitive(Kind.BUTTON_DOWN, button), True
    # Spread the motion over `duration`: toolkits need intermediate motion to see a drag.
    seg_lengths = [math.dist(p, q) for p, q in zip(a.path, a.path[1:])]
    total_len = sum(seg_lengths) or 1.0
    budget = max(len(a.path) - 1, int(a.duration / step_interval) if step_interval > 0 else 0)
    for (p, q), length in zip(zip(a.path, a.path[1:]), seg_lengths):
        n = max(1, round(budget * length / total_len))
        for i in range(1, n + 1):
            x = round(p[0] + (q[0] - p[0]) * i / n)
            y = round(p[1] + (q[1] - p[1]) * i / n)
            yield Primitive(Kind.MOTION, x=x, y=y), i == n
    yield Primitive(Kind.BUTTON_UP, button), False
    for m in reversed(mods):
        yield Primitive(Kind.KEY_UP, m), False


def _button(a: MouseDown, kind: Kind) -> Iterator[Step]:
    if a.x is not None and a.y is not None:
        yield Primitive(Kind.MOTION, x=a.x, y=a.y), False
    yield Primitive(kind, BUTTONS[a.button]), True


def _scroll(a: Scroll, backend: InputBackend) -> Iterator[Step]:
    mods = _mod_codes(a.modifiers, backend)
    for m in mods:
        yield Primitive(Kind.KEY_DOWN, m), False
    if a.x is not None and a.y is not None:
        yield Primitive(Kind.MOTION, x=a.x, y=a.y), False
    # X11 wheel buttons: 4 up, 5 down, 6 left, 7 right
    for amount, neg, pos in ((a.dy, 4, 5), (a.dx, 6, 7)):
        button = pos if amount > 0 else neg
        for _ in range(abs(amount)):
            yield Primitive(Kind.BUTTON_DOWN, button), False
            yield Primitive(Kind.BUTTON_UP, button), True
    for m in reversed(mods):
        yield Primitive(Kind.KEY_UP, m), False


def _type(text: str, backend: InputBackend, pause: Interruptible) -> Iterator[Step]:
    for ch in text:
        prims = backend.plan_char(ch, pause)
        if prims is None:
            return  # interrupted while waiting for a spare key
        last_down = max(i for i, p in enumerate(prims) if p.kind is Kind.KEY_DOWN)
        for i, p in enumerate(prims):
            yield p, i == last_down


def _keys(combos: tuple[Combo, ...], backend: InputBackend) -> Iterator[Step]:
    for combo in combos:
        codes = [backend.key_code(ks) for ks in combo.keysyms]
        for i, c in enumerate(codes):
            yield Primitive(Kind.KEY_DOWN, c), i == len(codes) - 1
        for c in reversed(codes):
            yield Primitive(Kind.KEY_UP, c), False


def _hold(a: HoldKey, backend: InputBackend) -> Iterator[Step]:
    combos = parse_keys(a.keys)
    codes = [backend.key_code(ks) for combo in combos for ks in combo.keysyms]
    for c in codes:
        yield Primitive(Kind.KEY_DOWN, c), False
    yield Pause(a.duration), True
    for c in reversed(codes):
        yield Primitive(Kind.KEY_UP, c), False
