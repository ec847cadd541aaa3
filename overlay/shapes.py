"""What the canvas paints, as plain values in SCREEN space (no Qt).

:func:`action_shapes` turns a review's ``screen_action`` into shapes (a marker at the
exact point of a click, an arrow along a drag, a direction arrow for a scroll, a callout
with the text to type, key chips for a combo); :func:`correction_shapes` does the same
for the reviewer's correction. The widget converts each point with
:class:`capture.coords.WidgetPlacement` and paints; it decides nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Arrow",
    "Callout",
    "KeyChip",
    "Marker",
    "Outline",
    "Role",
    "ScreenPoint",
    "ScrollArrow",
    "Shape",
    "action_shapes",
    "anchor_of",
    "correction_shapes",
    "describe",
    "display_text",
    "points_needed",
    "split_keys",
]

ScreenPoint = tuple[int, int]
Role = Literal["proposed", "correction", "hover"]
CALLOUT_LIMIT = 600  # characters shown on the screenshot; the why panel has room for more


@dataclass(frozen=True, slots=True)
class Marker:
    """A target at one exact screen pixel."""

    point: ScreenPoint
    role: Role = "proposed"
    label: str = ""


@dataclass(frozen=True, slots=True)
class Outline:
    """An element's box (x0, y0, x1, y1, exclusive): the one a click would name while the
    person hovers (``hover``), or the box they drew by hand (``correction``)."""

    box: tuple[int, int, int, int]
    role: Role = "hover"
    label: str = ""


@dataclass(frozen=True, slots=True)
class Arrow:
    """A path from its first point to its last (a drag), arrow head at the end."""

    path: tuple[ScreenPoint, ...]
    role: Role = "proposed"
    label: str = ""


@dataclass(frozen=True, slots=True)
class ScrollArrow:
    """A scroll at ``point``: ``dx``/``dy`` wheel clicks (+ is right/down)."""

    point: ScreenPoint
    dx: int
    dy: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class Callout:
    """Text the action would type, shown as inert text in a box near ``anchor``."""

    anchor: ScreenPoint
    text: str
    label: str = ""
    edited: bool = False


@dataclass(frozen=True, slots=True)
class KeyChip:
    """Keys to press: each combo is a tuple of key names pressed together."""

    anchor: ScreenPoint
    combos: tuple[tuple[str, ...], ...]
    label: str = ""
    edited: bool = False


Shape = Marker | Arrow | ScrollArrow | Callout | KeyChip | Outline


def anchor_of(shape: Shape) -> ScreenPoint:
    """The screen point a shape is drawn around (a path's end)."""
    if isinstance(shape, Marker | ScrollArrow):
        return shape.point
    if isinstance(shape, Arrow):
        return shape.path[-1]
    if isinstance(shape, Outline):
        return ((shape.box[0] + shape.box[2]) // 2, (shape.box[1] + shape.box[3]) // 2)
    return shape.anchor


def display_text(text: str, limit: int = CALLOUT_LIMIT) -> str:
    """``text`` with newlines and tabs made visible (they press Enter and Tab), cut to ``limit``."""
    shown = text[:limit].replace("\t", "⇥").replace("\n", "⏎\n")
    if len(text) > limit:
        shown += f"… ({len(text) - limit} more characters)"
    return shown


def split_keys(keys: str) -> tuple[tuple[str, ...], ...]:
    """``"ctrl+shift+t Return"`` -> ``(("ctrl", "shift", "t"), ("Return",))``; ``"ctrl++"`` keeps ``+``."""
    return tuple(tuple(re.split(r"\+(?=.)", combo)) for combo in keys.split())


def _point(a: dict[str, Any]) -> ScreenPoint | None:
    x, y = a.get("x"), a.get("y")
    return None if x is None or y is None else (int(x), int(y))


def _click_label(a: dict[str, Any]) -> str:
    count = {1: "", 2: "double ", 3: "triple "}.get(int(a.get("count", 1)), "")
    button = a.get("button", "left")
    mods = "+".join(a.get("modifiers") or ())
    return f"{mods + '+' if mods else ''}{count}{'' if button == 'left' else button + ' '}click"


def _scroll_words(dx: int, dy: int) -> str:
    words = []
    if dy:
        words.append(f"{'down' if dy > 0 else 'up'} {abs(dy)}")
    if dx:
        words.append(f"{'right' if dx > 0 else 'left'} {abs(dx)}")
    return "scroll " + ", ".join(words)


def describe(a: dict[str, Any]) -> str:
    """One line for a screen-space action, e.g. ``"double click at (812, 440)"``."""
    kind = str(a.get("action", "?"))
    at = _point(a)
    where = f" at {at}" if at else ""
    if kind == "click":
        return f"{_click_label(a)}{where}"
    if kind == "drag":
        path = a.get("path") or [[0, 0]]
        return f"drag from {tuple(path[0])} to {tuple(path[-1])}"
    if kind == "scroll":
        return (
            f"{_scroll_words(int(a.get('dx', 0)), int(a.get('dy', 0)))}{where or ' at the cursor'}"
        )
    if kind == "type":
        text = str(a.get("text", ""))
        return f"type {len(text)} character{'s' if len(text) != 1 else ''}"
    if kind in ("key", "hold_key"):
        held = f" for {a.get('duration')} s" if kind == "hold_key" else ""
        return f"{'hold' if held else 'press'} {a.get('keys', '')}{held}"
    if kind == "wait":
        return f"wait {a.get('duration', 1.0)} s"
    return f"{kind.replace('_', ' ')}{where}"


def action_shapes(
    a: dict[str, Any], screen_rect: tuple[int, int, int, int], override: str | None = None
) -> list[Shape]:
    """The proposed action as shapes; ``override`` replaces its text or keys (an edit)."""
    left, top, width, height = screen_rect
    centre = (left + width // 2, top + height // 2)
    # text and keys go to the focused field, which is not known: below the middle,
    # so the callout leaves the centre of the screen visible
    below = (left + width // 2, top + 3 * height // 4)
    kind = a.get("action")
    at = _point(a)
    if kind == "click" and at:
        return [Marker(at, "proposed", _click_label(a))]
    if kind in ("move", "mouse_down", "mouse_up") and at:
        return [Marker(at, "proposed", str(kind).replace("_", " "))]
    if kind == "drag":
        path = tuple((int(x), int(y)) for x, y in a.get("path") or ())
        return [Arrow(path, "proposed", "drag")] if len(path) >= 2 else []
    if kind == "scroll":
        dx, dy = int(a.get("dx", 0)), int(a.get("dy", 0))
        return [ScrollArrow(at or centre, dx, dy, _scroll_words(dx, dy))]
    if kind == "type":
        text = override if override is not None else str(a.get("text", ""))
        edited = override is not None
        return [Callout(below, display_text(text), "edited text" if edited else "type", edited)]
    if kind in ("key", "hold_key"):
        keys = override if override is not None else str(a.get("keys", ""))
        label = f"hold {a.get('duration')} s" if kind == "hold_key" else "press"
        return [KeyChip(below, split_keys(keys), label, override is not None)]
    return [Callout(centre, describe(a), str(kind))]


def correction_shapes(points: tuple[ScreenPoint, ...], needed: int) -> list[Shape]:
    """The reviewer's correction: a marker per click, and the corrected drag as an arrow."""
    if not points:
        return []
    if needed == 2 and len(points) == 2:
        return [Arrow(points, "correction", "corrected drag")]
    label = "drag starts here" if needed == 2 else "corrected"
    return [Marker(p, "correction", label) for p in points]


def points_needed(screen_action: dict[str, Any]) -> int:
    """How many clicks make a correction of this action: 2 for a drag, 1 for a pointed one."""
    kind = screen_action.get("action")
    if kind == "drag":
        return 2
    if kind in ("click", "move", "scroll"):
        return 1
    if kind in ("mouse_down", "mouse_up") and screen_action.get("x") is not None:
        return 1
    return 0
