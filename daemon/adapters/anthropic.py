"""Anthropic's computer tool (``computer_20250124``, and ``computer_20251124``'s ``zoom``)
<-> canonical actions.

The tool's ``input`` object carries ``action`` and, depending on it, ``coordinate``
``[x, y]``, ``start_coordinate``, ``text``, ``scroll_direction``, ``scroll_amount``,
``duration``, ``repeat`` (``key``) and ``region`` (``zoom``). On clicks, drags and scrolls
``text`` names the modifier keys held meanwhile (``"shift"``, ``"ctrl+shift"``), as the
published schema says; Anthropic's reference implementation reads them from ``key``
instead, so both are accepted. A click without ``coordinate`` clicks where the pointer
is: the caller passes ``cursor`` (the server asks the executor for it first, see
:func:`needs_cursor`). Coordinates are the agent's: the daemon converts them.

Where the published schema and the reference tool differ, docs/dialects.md says which
one is followed and why (a drag needs ``start_coordinate``; a scroll needs
``scroll_amount``). Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import math
import re
from typing import Any

from daemon.actions import (
    MAX_DURATION,
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
from daemon.outcomes import Image, Outcome

__all__ = [
    "ACTIONS", "MAX_REPEAT", "REFERENCE_MAX_DURATION", "SHOT_AFTER", "TOOL_NAME", "TOOL_VERSION",
    "TOOL_VERSIONS", "candidate_text", "envelope", "error_result", "needs_cursor", "to_canonical",
    "to_tool_result",
]  # fmt: skip

TOOL_VERSION = "computer_20250124"
TOOL_VERSIONS = ("computer_20250124", "computer_20251124")  # the newer adds zoom
TOOL_NAME = "computer"  # the name the tool has in every tool_use block
MAX_REPEAT = 100  # key presses one ``key`` action may repeat
REFERENCE_MAX_DURATION = 100.0  # seconds: the reference tool's limit for wait and hold_key
# The actions after which the reference tool sends a fresh screenshot back: all but the
# looks (screenshot, zoom and cursor_position answer with their own result).
SHOT_AFTER = frozenset({
    "key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
    "double_click", "triple_click", "left_mouse_down", "left_mouse_up", "scroll", "hold_key",
    "wait",
})  # fmt: skip

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
     "scroll_amount", "duration", "region", "repeat"}
)  # fmt: skip
# What each action may carry besides "action"; anything else given is a mistake worth naming.
_ALLOWED: dict[str, frozenset[str]] = {
    "key": frozenset({"text", "repeat"}),
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
    """Seconds, checked as the reference checks them (a number, 0 to 100), then against the
    daemon's own limit (an action longer than a minute is not run: see docs/dialects.md)."""
    d = inp.get("duration")
    if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d):
        raise ActionError(f'{action} needs "duration": a number of seconds')
    if d < 0:
        raise ActionError(f"{action}: duration must be non-negative, got {d!r}")
    if d > REFERENCE_MAX_DURATION:
        raise ActionError(f"{action}: duration {d!r} is too long (at most {REFERENCE_MAX_DURATION:g} s)")
    if d > MAX_DURATION:
        raise ActionError(
            f"{action}: duration {d!r} is longer than driverseat runs one action "
            f"({MAX_DURATION:g} s); split it"
        )
    return float(d)


def _repeat(inp: dict[str, Any]) -> int:
    n = inp.get("repeat")
    if n is None:
        return 1
    if isinstance(n, bool) or not isinstance(n, int | float) or n != int(n) or not 1 <= n <= MAX_REPEAT:
        raise ActionError(f"key: repeat must be a whole number from 1 to {MAX_REPEAT}, got {n!r}")
    return int(n)


def needs_cursor(inp: dict[str, Any]) -> bool:
    """True when ``inp`` acts where the pointer is now (a click without ``coordinate``)."""
    return inp.get("action") in _CLICKS and inp.get("coordinate") is None


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
        text, times = _text(inp, action), _repeat(inp)
        if times > 1 and len(text) * times + times > 500:
            raise ActionError(f"key: {text!r} repeated {times} times is too long for one action; split it")
        return Key(keys=" ".join([text] * times))  # xdotool: combos separated by spaces
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
        # The published schema requires both points. The reference tool drags from wherever
        # the pointer is (it never reads start_coordinate): a drag from a place the model
        # did not name is refused instead of guessed (docs/dialects.md).
        for field, what in (("start_coordinate", "where to press"), ("coordinate", "where to release")):
            if inp.get(field) is None:
                raise ActionError(f'left_click_drag needs "{field}" [x, y]: {what}')
        start = _coordinate(inp["start_coordinate"], "start_coordinate", action)
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
    # required by the schema, and the reference tool refuses a scroll without it: no
    # default is guessed (an agent that meant one click must not get three)
    amount = inp.get("scroll_amount")
    if amount is None:
        raise ActionError('scroll needs "scroll_amount": how many wheel clicks to scroll')
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


def _content(text: str, images: list[Image]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
    for image in images:
        source = {"type": "base64", "media_type": image.media_type, "data": image.data}
        blocks.append({"type": "image", "source": source})
    return blocks


def _text_of(outcome: Outcome) -> str:
    if outcome.status == "executed":
        chose = candidate_text(outcome)
        return f"{chose} {outcome.detail or 'Done.'}" if chose else outcome.detail or "Done."
    if outcome.status == "interrupted":
        return _interrupted_text(outcome)
    if outcome.status == "corrected":
        return outcome.feedback.text if outcome.feedback else f"Corrected by the person: {outcome.detail}"
    if outcome.status == "denied":
        return f"Denied: {outcome.detail or 'this action is not allowed.'}"
    if outcome.status == "expired":
        return f"Not run: {outcome.detail or 'nobody answered the review in time.'}"
    if outcome.status == "rejected":
        return f"Rejected by the person: {outcome.detail or 'do not repeat this action as it was.'}"
    return f"Error: {outcome.detail or 'the action failed.'}"


def to_tool_result(outcome: Outcome, tool_use_id: str | None = None) -> dict[str, Any]:
    """The ``tool_result`` block answering one ``tool_use`` (``type``, ``tool_use_id``,
    ``content``, ``is_error``), exactly as the Messages API takes it back; without
    ``tool_use_id`` (the bare ``input`` was posted) only ``content`` and ``is_error``,
    for the caller to put in its own block."""
    # a corrected action did not run: the model must notice and retry
    is_error = outcome.status != "executed"
    images = [outcome.screenshot] if outcome.screenshot is not None else []
    if outcome.feedback is not None:
        images += [i for i in (outcome.feedback.image, *outcome.feedback.crops) if i is not None]
    result: dict[str, Any] = {"content": _content(_text_of(outcome), images), "is_error": is_error}
    if tool_use_id is None:
        return result
    return {"type": "tool_result", "tool_use_id": tool_use_id, **result}


def error_result(message: str, tool_use_id: str | None = None) -> dict[str, Any]:
    """A refused input as the reference tool answers a ``ToolError``: an error result the
    agent hands back to the model as it is."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": f"Error: {message}"}], "is_error": True}
    if tool_use_id is None:
        return result
    return {"type": "tool_result", "tool_use_id": tool_use_id, **result}


def envelope(outcome: Outcome) -> dict[str, Any]:
    """driverseat's own record of the outcome (the ``driverseat`` key, on request)."""
    return {
        "id": outcome.id,
        "status": outcome.status,
        "action": outcome.action,
        "control": outcome.control,
        "elapsed_ms": outcome.elapsed_ms,  # the work inside the call (the executor's time)
        **({"review_id": outcome.review_id} if outcome.review_id else {}),
        **({"candidate": outcome.candidate} if outcome.candidate is not None else {}),
    }
