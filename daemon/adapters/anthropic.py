"""Anthropic's computer tool (``computer_20250124``, and ``computer_20251124``'s ``zoom``)
<-> canonical actions.

The tool's ``input`` object carries ``action`` and, depending on it, ``coordinate``
``[x, y]``, ``start_coordinate``, ``text``, ``scroll_direction``, ``scroll_amount`` and
``duration``. On clicks and scrolls ``text`` names the modifier keys held meanwhile
(``"shift"``, ``"ctrl+shift"``); Anthropic's reference implementation reads them from
``key`` instead, so both are accepted. A click without ``coordinate`` clicks where the
pointer is: the caller passes ``cursor`` (the server asks the executor for it first,
see :func:`needs_cursor`). Coordinates are the agent's: the daemon converts them.

Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import math
import re
from typing import Any

from daemon.actions import (
    Action,
    Button,
    Click,
    CursorPosition,
    Drag,
    HoldKey,
    Key,
    MouseDown,
    MouseUp,
    Move,
    Screenshot,
    Scroll,
    Type,
    Wait,
    Zoom,
)
from daemon.adapters import translated
from daemon.errors import ActionError
from daemon.outcomes import Outcome

__all__ = ["ACTIONS", "TOOL_VERSION", "TOOL_VERSIONS", "candidate_text", "needs_cursor", "to_canonical", "to_tool_result"]

TOOL_VERSION = "computer_20250124"
TOOL_VERSIONS = ("computer_20250124", "computer_20251124")  # the newer adds zoom

_CLICKS: dict[str, tuple[Button, int]] = {
    "left_click": ("left", 1),
    "right_click": ("right", 1),
    "middle_click": ("middle", 1),
    "double_click": ("left", 2),
    "triple_click": ("left", 3),
}
_SCROLL: dict[str, tuple[int, int]] = {
    "up": (0, -1),
    "down": (0, 1),
    "left": (-1, 0),
    "right": (1, 0),
}
ACTIONS = (
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
    "double_click", "triple_click", "left_mouse_down", "left_mouse_up", "scroll", "hold_key",
    "wait", "screenshot", "cursor_position", "zoom",
)  # fmt: skip
_FIELDS = frozenset(
    {"action", "coordinate", "start_coordinate", "text", "key", "scroll_direction",
     "scroll_amount", "duration", "region"}
)  # fmt: skip
# What each action may carry besides "action"; anything else given is a mistake worth naming.
_ALLOWED: dict[str, frozenset[str]] = {
    "key": frozenset({"text"}),
    "type": frozenset({"text"}),
    "mouse_move": frozenset({"coordinate"}),
    "left_click_drag": frozenset({"coordinate", "start_coordinate", "text", "key"}),
    "left_mouse_down": frozenset({"coordinate"}),
    "left_mouse_up": frozenset({"coordinate"}),
    "scroll": frozenset({"coordinate", "scroll_direction", "scroll_amount", "text", "key"}),
    "hold_key": frozenset({"text", "duration"}),
    "wait": frozenset({"duration"}),
    "screenshot": frozenset(),
    "cursor_position": frozenset(),
    "zoom": frozenset({"region"}),  # computer_20251124
    **{name: frozenset({"coordinate", "text", "key"}) for name in _CLICKS},
}


def _coordinate(value: Any, field: str, action: str) -> tuple[int, int]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ActionError(f"{action}: {field} must be a list of two numbers [x, y], got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ActionError(f"{action}: {field} must hold two numbers [x, y], got {value!r}")
        if not math.isfinite(v) or v != int(v) or v < 0:
            raise ActionError(
                f"{action}: {field} must hold two non-negative whole numbers, got {value!r}"
            )
        out.append(int(v))
    return out[0], out[1]


def _text(inp: dict[str, Any], action: str) -> str:
    text = inp.get("text")
    if not isinstance(text, str) or not text:
        raise ActionError(f'{action} needs "text": a non-empty string')
    return text


def _modifiers(inp: dict[str, Any], action: str) -> tuple[str, ...]:
    raw = inp.get("text") if inp.get("text") is not None else inp.get("key")
    if raw is None:
        return ()
    if not isinstance(raw, str):
        raise ActionError(
            f'{action}: "text" names the modifier keys to hold, as a string like "shift"'
        )
    return tuple(p for p in re.split(r"[+\s]+", raw.strip()) if p)


def _duration(inp: dict[str, Any], action: str) -> float:
    d = inp.get("duration")
    if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d):
        raise ActionError(f'{action} needs "duration": a number of seconds')
    return float(d)


def needs_cursor(inp: dict[str, Any]) -> bool:
    """True when ``inp`` acts where the pointer is now (a click or drag without a start)."""
    action = inp.get("action")
    if action in _CLICKS:
        return inp.get("coordinate") is None
    if action == "left_click_drag":
        return inp.get("start_coordinate") is None
    return False


def to_canonical(inp: dict[str, Any], *, cursor: tuple[int, int] | None = None) -> Action:
    """Translate one tool ``input``; ActionError (one sentence) for anything not understood."""
    if not isinstance(inp, dict):
        raise ActionError(
            f"the computer tool input must be a JSON object, got {type(inp).__name__}"
        )
    action = inp.get("action")
    if action not in _ALLOWED:
        raise ActionError(
            f"unknown computer action {action!r}; {' and '.join(TOOL_VERSIONS)} have: "
            f"{', '.join(ACTIONS)}",
            action=action,
        )
    given = {k for k, v in inp.items() if v is not None and k != "action"}
    unknown = sorted(given - _FIELDS)
    if unknown:
        raise ActionError(f"{action}: unknown field(s) {', '.join(unknown)}")
    fields = {k: v for k, v in inp.items() if k != "action"}
    return translated(action, fields, _ALLOWED[action], lambda: _translate(action, inp, cursor),
                      _FIELD_NAMES, "input")  # fmt: skip


_FIELD_NAMES = {"keys": "text", "modifiers": "text", "x": "coordinate", "y": "coordinate",
                "path": "coordinate", "dx": "scroll_amount", "dy": "scroll_amount"}  # fmt: skip



def _here(
    inp: dict[str, Any], field: str, action: str, cursor: tuple[int, int] | None
) -> tuple[int, int]:
    if inp.get(field) is not None:
        return _coordinate(inp[field], field, action)
    if cursor is None:
        raise ActionError(f'{action} needs "{field}" [x, y] (the pointer position is not known)')
    return cursor


def _translate(action: str, inp: dict[str, Any], cursor: tuple[int, int] | None) -> Action:
    if action == "key":
        return Key(keys=_text(inp, action))
    if action == "type":
        return Type(text=_text(inp, action))
    if action == "mouse_move":
        if inp.get("coordinate") is None:
            raise ActionError('mouse_move needs "coordinate" [x, y]')
        x, y = _coordinate(inp["coordinate"], "coordinate", action)
        return Move(x=x, y=y)
    if action in _CLICKS:
        button, count = _CLICKS[action]
        x, y = _here(inp, "coordinate", action, cursor)
        return Click(x=x, y=y, button=button, count=count, modifiers=_modifiers(inp, action))
    if action == "left_click_drag":
        if inp.get("coordinate") is None:
            raise ActionError('left_click_drag needs "coordinate" [x, y]: where to drag to')
        start = _here(inp, "start_coordinate", action, cursor)
        end = _coordinate(inp["coordinate"], "coordinate", action)
        return Drag(path=(start, end), modifiers=_modifiers(inp, action))
    if action in ("left_mouse_down", "left_mouse_up"):
        model = MouseDown if action == "left_mouse_down" else MouseUp
        if inp.get("coordinate") is None:
            return model(button="left")
        x, y = _coordinate(inp["coordinate"], "coordinate", action)
        return model(button="left", x=x, y=y)
    if action == "scroll":
        return _scroll(inp)
    if action == "hold_key":
        return HoldKey(keys=_text(inp, action), duration=_duration(inp, action))
    if action == "wait":
        return Wait(duration=_duration(inp, action))
    if action == "screenshot":
        return Screenshot()
    if action == "zoom":
        region = inp.get("region")
        if not (isinstance(region, list | tuple) and len(region) == 4):
            raise ActionError('zoom needs "region" [x0, y0, x1, y1]')
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in region):
            raise ActionError("zoom: region must be four whole numbers [x0, y0, x1, y1]")
        return Zoom(region=tuple(region))
    return CursorPosition()


def _scroll(inp: dict[str, Any]) -> Scroll:
    direction = inp.get("scroll_direction")
    if direction not in _SCROLL:
        raise ActionError(
            f'scroll needs "scroll_direction": up, down, left or right, got {direction!r}'
        )
    amount = inp.get("scroll_amount", 3)
    if amount is None:
        amount = 3
    if (
        isinstance(amount, bool)
        or not isinstance(amount, int | float)
        or amount != int(amount)
        or amount < 1
    ):
        raise ActionError(
            f'scroll needs "scroll_amount": a whole number of wheel clicks >= 1, got {amount!r}'
        )
    sx, sy = _SCROLL[direction]
    x = y = None
    if inp.get("coordinate") is not None:
        x, y = _coordinate(inp["coordinate"], "coordinate", "scroll")
    return Scroll(
        x=x, y=y, dx=sx * int(amount), dy=sy * int(amount), modifiers=_modifiers(inp, "scroll")
    )


# -- outcomes -> tool_result -------------------------------------------------------------

_DONE = {"characters": "typed", "clicks": "clicked", "path points": "dragged through",
         "wheel clicks": "scrolled", "key combos": "pressed"}  # fmt: skip


def _progress(outcome: Outcome) -> str:
    p = outcome.progress
    if p is None or p.done == 0:
        return "nothing was done"
    verb = _DONE.get(p.unit)
    if verb:
        return f"{verb} {p.done} of {p.total} {p.unit}"
    return f"{p.done} of {p.total} {p.unit} done"


def _interrupted_text(outcome: Outcome) -> str:
    if outcome.control == "stopped":
        why = "the person stopped the agent (kill switch or stop request)"
        advice = "Do not continue until they resume; then take a screenshot before continuing."
    else:
        why = "a person took control of the mouse and keyboard"
        advice = "Take a screenshot before continuing."
    return f"Interrupted: {why}; {_progress(outcome)}. {advice}"


def candidate_text(outcome: Outcome) -> str | None:
    """What to tell the model when a person chose another candidate than its proposal."""
    if outcome.candidate is None or outcome.candidate == 1 or outcome.candidate_action is None:
        return None
    ran = {k: v for k, v in outcome.candidate_action.items() if k in _SAID or k == "action"}
    return (
        f"The person chose your alternative {outcome.candidate - 1} (candidate "
        f"{outcome.candidate}) instead of your proposal; it ran: {ran}."
    )


_SAID = ("x", "y", "path", "text", "keys", "button", "count", "dx", "dy", "duration", "region")


def to_tool_result(outcome: Outcome) -> dict[str, Any]:
    """The ``content`` and ``is_error`` of a ``tool_result`` block, plus driverseat's own ids."""
    # a corrected action did not run: the model must notice and retry
    is_error = outcome.status != "executed"
    if outcome.status == "executed":
        text = outcome.detail or "Done."
        if (chose := candidate_text(outcome)) is not None:
            text = f"{chose} {text}"
    elif outcome.status == "interrupted":
        text = _interrupted_text(outcome)
    elif outcome.status == "corrected":
        text = outcome.feedback.text if outcome.feedback else f"Corrected by the person: {outcome.detail}"
    elif outcome.status == "denied":
        text = f"Denied: {outcome.detail or 'this action is not allowed.'}"
    elif outcome.status == "expired":
        text = f"Not run: {outcome.detail or 'nobody answered the review in time.'}"
    elif outcome.status == "rejected":
        text = f"Rejected by the person: {outcome.detail or 'do not repeat this action as it was.'}"
    else:
        text = f"Error: {outcome.detail or 'the action failed.'}"
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    images = [outcome.screenshot] if outcome.screenshot is not None else []
    if outcome.feedback is not None:
        images += [i for i in (outcome.feedback.image, *outcome.feedback.crops) if i is not None]
    for image in images:
        content.append(
            {
                "type": "image",
                "source": {"type": "base64", "media_type": image.media_type, "data": image.data},
            }
        )
    return {
        "content": content,
        "is_error": is_error,
        "driverseat": {
            "id": outcome.id,
            "status": outcome.status,
            "action": outcome.action,
            "control": outcome.control,
            **({"review_id": outcome.review_id} if outcome.review_id else {}),
            **({"candidate": outcome.candidate} if outcome.candidate is not None else {}),
        },
    }
