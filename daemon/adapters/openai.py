"""OpenAI's computer-use tool (Responses API ``computer_call`` items) <-> canonical actions.

A ``computer_call`` output item carries ``call_id``, one ``action`` (``computer_use_preview``)
or a batch ``actions[]`` (the GA ``computer`` tool), and ``pending_safety_checks``. Each
action is ``{"type": ..., ...}``: ``click`` (x, y, button: left/right/wheel/back/forward),
``double_click``, ``scroll`` (x, y, scroll_x, scroll_y in pixels), ``type`` (text),
``keypress`` (keys: ``["CTRL", "A"]``), ``wait``, ``move``, ``drag`` (path of ``{x, y}``),
``screenshot``; pointer actions may carry ``keys`` held meanwhile (GA tool).

Choices made here (OpenAI leaves them to the harness):

- ``button: "wheel"`` is the middle button; ``back`` and ``forward`` are X11 buttons 8 and
  9 (what a mouse's side buttons send: browsers go back and forward on them).
- scroll distances are pixels; the daemon scrolls in wheel clicks: one click per
  :data:`PIXELS_PER_CLICK` pixels, rounded half away from zero, at least one click for
  any non-zero distance (``scroll_y: 30`` -> 1, ``150`` -> 2, ``-420`` -> -4). Both
  distances are required (the schema says so); ``0, 0`` moves the pointer to ``x, y``
  and scrolls nothing, as the reference harness does.
- ``wait`` has no field in the schema: it lasts :data:`DEFAULT_WAIT_MS` (2 s, as in
  OpenAI's computer-use guide), or ``ms`` milliseconds when given (the sample app's
  ``wait(ms=1000)`` takes it).
- ``keypress`` keys become one xdotool combo joined with ``+`` (see :data:`KEY_NAMES`).

Pending safety checks are never acknowledged here: the daemon puts the call before a
person, and only their approval acknowledges them. Coordinates stay in the agent's
space: the daemon converts them centrally. Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import math
import re
from typing import Any

from capture import CaptureError
from capture.input.keys import keysym_for_name
from daemon.actions import (
    MAX_DURATION,
    MAX_SCROLL,
    Action,
    Button,
    Click,
    Drag,
    Key,
    Move,
    Screenshot,
    Scroll,
    Type,
    Wait,
)
from daemon.adapters import anthropic, translated
from daemon.errors import ActionError
from daemon.outcomes import Image, Outcome

__all__ = [
    "ACTIONS",
    "KEY_NAMES",
    "PIXELS_PER_CLICK",
    "SafetyCheckPending",
    "describe_checks",
    "envelope",
    "map_key",
    "safety_checks",
    "status_of",
    "to_canonical",
    "to_output",
    "user_message",
    "wheel_clicks",
]

PIXELS_PER_CLICK = 100
DEFAULT_WAIT_MS = 2000  # the guide's example harness sleeps 2 s on a wait

# OpenAI's key names (any case) -> xdotool names the daemon parses (capture.input.keys).
KEY_NAMES: dict[str, str] = {
    "CTRL": "ctrl", "CONTROL": "ctrl", "ALT": "alt", "OPTION": "alt", "SHIFT": "shift",
    "CMD": "super", "COMMAND": "super", "META": "super", "SUPER": "super", "WIN": "super",
    "WINDOWS": "super",
    "ENTER": "Return", "RETURN": "Return", "ESC": "Escape", "ESCAPE": "Escape", "TAB": "Tab",
    "SPACE": "space", "BACKSPACE": "BackSpace", "DELETE": "Delete", "DEL": "Delete",
    "INSERT": "Insert", "HOME": "Home", "END": "End", "PAGEUP": "Page_Up",
    "PAGEDOWN": "Page_Down", "ARROWUP": "Up", "ARROWDOWN": "Down", "ARROWLEFT": "Left",
    "ARROWRIGHT": "Right", "UP": "Up", "DOWN": "Down", "LEFT": "Left", "RIGHT": "Right",
    "CAPSLOCK": "Caps_Lock", "PRINTSCREEN": "Print",
    # "+" joins the combo and whitespace separates combos, so these need their names
    "+": "plus", "-": "minus", " ": "space", "\t": "Tab", "\n": "Return",
}  # fmt: skip
_FKEY = re.compile(r"^[Ff]([1-9]|1[0-9]|2[0-4])$")

_BUTTONS: dict[str, Button] = {
    "left": "left", "right": "right", "wheel": "middle", "back": "back", "forward": "forward",
}  # fmt: skip
_HELD = frozenset({"keys"})
# What each action may carry besides "type"; anything else is a mistake worth naming.
_ALLOWED: dict[str, frozenset[str]] = {
    "click": frozenset({"x", "y", "button"}) | _HELD,
    "double_click": frozenset({"x", "y"}) | _HELD,
    "scroll": frozenset({"x", "y", "scroll_x", "scroll_y"}) | _HELD,
    "type": frozenset({"text"}),
    "keypress": frozenset({"keys"}),
    "wait": frozenset({"ms"}),
    "move": frozenset({"x", "y"}) | _HELD,
    "drag": frozenset({"path"}) | _HELD,
    "screenshot": frozenset(),
}
ACTIONS = tuple(_ALLOWED)
# canonical field -> the tool's name for it, for validation messages
_FIELD_NAMES = {"modifiers": "keys", "dx": "scroll_x", "dy": "scroll_y", "duration": "ms"}


class SafetyCheckPending(ActionError):
    """The call carries ``pending_safety_checks`` that only a person may acknowledge."""


def _number(value: Any, field: str, where: str, *, minimum: float | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ActionError(f"{where}: {field} must be a whole number, got {value!r}")
    if not math.isfinite(value) or value != int(value):
        raise ActionError(f"{where}: {field} must be a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ActionError(f"{where}: {field} must not be negative, got {value!r}")
    return int(value)


def _point(act: dict[str, Any], where: str) -> tuple[int, int]:
    for field in ("x", "y"):
        if act.get(field) is None:
            raise ActionError(f'{where} needs "{field}": a pixel of the screenshot')
    return _number(act["x"], "x", where), _number(act["y"], "y", where)


def map_key(name: Any, where: str = "keypress") -> str:
    """One OpenAI key name (``"CTRL"``, ``"ArrowLeft"``, ``"a"``, ``"F5"``) -> xdotool's name."""
    if not isinstance(name, str) or not name:
        raise ActionError(f"{where}: each key must be a non-empty string, got {name!r}")
    mapped = KEY_NAMES.get(name.upper())
    if mapped is not None:
        return mapped
    if _FKEY.match(name):
        return name.upper()
    if len(name) == 1:
        # letters lowercased: "A" in ["CTRL", "A"] means the A key, not shift+a
        return name.lower() if name.isalpha() else name
    try:
        keysym_for_name(name)  # X names such as "KP_Enter" or "XF86AudioMute" pass through
    except CaptureError:
        raise ActionError(
            f"{where}: unknown key {name!r}; use names like CTRL, ALT, SHIFT, CMD, ENTER, ESC, "
            "TAB, SPACE, BACKSPACE, DELETE, ARROWLEFT, PAGEUP, HOME, F5 or a single character",
            key=name,
        ) from None
    return name


def _keys(act: dict[str, Any], where: str, *, required: bool) -> tuple[str, ...]:
    keys = act.get("keys")
    if keys is None or (keys == [] and not required):
        if required:
            raise ActionError(f'{where} needs "keys": a list of key names like ["CTRL", "C"]')
        return ()
    if not isinstance(keys, list) or not keys:
        raise ActionError(f'{where}: "keys" must be a list of key names like ["CTRL", "C"]')
    return tuple(map_key(k, where) for k in keys)


def wheel_clicks(pixels: Any, field: str = "scroll_y", where: str = "scroll") -> int:
    """Pixels -> wheel clicks: 1 per 100 px, half away from zero, at least 1 if non-zero."""
    px = _number(pixels, field, where, minimum=None)
    if px == 0:
        return 0
    clicks = max(1, int(abs(px) / PIXELS_PER_CLICK + 0.5))
    if clicks > MAX_SCROLL:
        raise ActionError(
            f"{where}: {field} of {px} px is more than one action may scroll "
            f"({MAX_SCROLL * PIXELS_PER_CLICK} px); split it"
        )
    return clicks if px > 0 else -clicks


def _path(act: dict[str, Any], where: str) -> tuple[tuple[int, int], ...]:
    path = act.get("path")
    if not isinstance(path, list) or len(path) < 2:
        raise ActionError(
            f'{where} needs "path": a list of at least two points like [{{"x": 1, "y": 2}}, ...]'
        )
    points = []
    for i, p in enumerate(path):
        if not isinstance(p, dict) or set(p) != {"x", "y"}:
            raise ActionError(f"{where}: path[{i}] must be an object {{x, y}}, got {p!r}")
        points.append(_point(p, f"{where} path[{i}]"))
    return tuple(points)


def _translate(kind: str, act: dict[str, Any], where: str) -> Action:
    if kind in ("click", "double_click"):
        x, y = _point(act, where)
        # the schema requires button; the reference harness defaults it to left
        button = act.get("button", "left") if kind == "click" else "left"
        if not isinstance(button, str) or button not in _BUTTONS:
            raise ActionError(
                f"{where}: button must be left, right, wheel, back or forward, got {button!r}"
            )
        count = 1 if kind == "click" else 2
        mods = _keys(act, where, required=False)
        return Click(x=x, y=y, button=_BUTTONS[button], count=count, modifiers=mods)
    if kind == "scroll":
        x, y = _point(act, where)
        for field in ("scroll_x", "scroll_y"):
            if act.get(field) is None:
                raise ActionError(f'{where} needs "{field}": a distance in pixels (0 for none)')
        dx = wheel_clicks(act["scroll_x"], "scroll_x", where)
        dy = wheel_clicks(act["scroll_y"], "scroll_y", where)
        mods = _keys(act, where, required=False)
        if dx == 0 and dy == 0:
            if mods:
                raise ActionError(f"{where}: scroll_x and scroll_y are both 0: nothing to scroll")
            return Move(x=x, y=y)  # the reference moves there, then scrolls by nothing
        return Scroll(x=x, y=y, dx=dx, dy=dy, modifiers=mods)
    if kind == "type":
        text = act.get("text")
        if not isinstance(text, str) or not text:
            raise ActionError(f'{where} needs "text": a non-empty string')
        return Type(text=text)
    if kind == "keypress":
        return Key(keys="+".join(_keys(act, where, required=True)))
    if kind == "wait":
        ms = act.get("ms")
        ms = DEFAULT_WAIT_MS if ms is None else _number(ms, "ms", where)
        if ms > MAX_DURATION * 1000:
            raise ActionError(f"{where}: ms must be at most {MAX_DURATION * 1000:.0f}, got {ms}")
        return Wait(duration=ms / 1000)
    if kind == "move":
        if _keys(act, where, required=False):
            raise ActionError(f"{where}: moving with keys held is not supported; drop keys")
        x, y = _point(act, where)
        return Move(x=x, y=y)
    if kind == "drag":
        return Drag(path=_path(act, where), modifiers=_keys(act, where, required=False))
    return Screenshot()


def _one(act: Any, where: str) -> Action:
    if not isinstance(act, dict):
        raise ActionError(f"{where} must be a JSON object, got {type(act).__name__}")
    kind = act.get("type")
    if kind not in _ALLOWED:
        raise ActionError(
            f"{where}: unknown action type {kind!r}; the computer tool has: {', '.join(ACTIONS)}",
            action=kind,
        )
    where = f"{where} ({kind})" if where != kind else kind
    fields = {k: v for k, v in act.items() if k != "type"}
    return translated(where, fields, _ALLOWED[kind], lambda: _translate(kind, act, where), _FIELD_NAMES, "action")



def safety_checks(call: dict[str, Any]) -> list[dict[str, Any]]:
    """The call's pending safety checks (``id``, ``code``, ``message``), checked strictly.

    Anything but a list of objects each with a string ``id`` raises ActionError: a check
    that cannot be read is never taken for no check at all.
    """
    checks = call.get("pending_safety_checks")
    if checks is None:
        return []
    if not isinstance(checks, list):
        raise ActionError(
            f"pending_safety_checks must be a list of {{id, code, message}} objects, got {checks!r}"
        )
    listed = []
    for i, c in enumerate(checks):
        if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not c["id"]:
            raise ActionError(
                f"pending_safety_checks[{i}] must be an object with a string id, got {c!r}"
            )
        for field in ("code", "message"):
            if c.get(field) is not None and not isinstance(c[field], str):
                raise ActionError(f"pending_safety_checks[{i}].{field} must be a string")
        listed.append({k: c.get(k) for k in ("id", "code", "message")})
    return listed


def describe_checks(checks: list[dict[str, Any]]) -> str:
    """``"malicious_instructions: ...; irrelevant_domain: ..."`` for a person to read."""
    return "; ".join(f"{c.get('code') or 'unknown'}: {c.get('message') or '(no message)'}" for c in checks)


def _check_safety(call: dict[str, Any]) -> None:
    listed = safety_checks(call)
    if not listed:
        return
    raise SafetyCheckPending(
        f"the computer call carries {len(listed)} pending safety check(s) ({describe_checks(listed)}) "
        "that a person must acknowledge; driverseat never acknowledges them itself, so the call "
        "is refused and nothing was executed",
        call_id=call.get("call_id"),
        checks=listed,
    )


def to_canonical(call: dict[str, Any], *, checks_go_to_a_person: bool = False) -> list[Action]:
    """Translate one ``computer_call`` item into canonical actions, in order.

    All or nothing: any action that is not understood raises ActionError (one sentence
    naming the field) before anything runs. Pending safety checks raise
    :class:`SafetyCheckPending` unless the caller puts them before a person
    (``checks_go_to_a_person``); malformed ones always raise ActionError.
    """
    if not isinstance(call, dict):
        raise ActionError(f"a computer_call must be a JSON object, got {type(call).__name__}")
    if call.get("type", "computer_call") != "computer_call":
        raise ActionError(f"expected a computer_call item, got type {call.get('type')!r}")
    if checks_go_to_a_person:
        safety_checks(call)
    else:
        _check_safety(call)
    action, actions = call.get("action"), call.get("actions")
    if action is not None and actions is not None:
        raise ActionError('a computer_call carries "action" or "actions", not both')
    if actions is not None:
        if not isinstance(actions, list) or not actions:
            raise ActionError('"actions" must be a non-empty list of actions')
        return [_one(a, f"actions[{i}]") for i, a in enumerate(actions)]
    if action is None:
        raise ActionError('a computer_call needs "action" (or "actions"), and has neither')
    kind = action.get("type") if isinstance(action, dict) else None
    return [_one(action, kind if kind in _ALLOWED else "action")]


# -- outcomes -> computer_call_output --------------------------------------------------------


def to_output(
    call_id: str,
    outcomes: list[Outcome],
    screenshot: Image | None,
    *,
    acknowledged: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``computer_call_output`` item answering ``call_id``, exactly as the Responses API
    takes it back in ``input`` (nothing of driverseat's own: see :func:`envelope`).

    ``acknowledged`` lists the safety checks a person acknowledged on the overlay; only
    then do they come back in ``acknowledged_safety_checks``. The screenshot is
    ``screenshot``, else the last outcome's.
    """
    if screenshot is None:
        screenshot = next((o.screenshot for o in reversed(outcomes) if o.screenshot), None)
    if screenshot is None:
        raise ValueError("a computer_call_output needs a screenshot, and none was given")
    return {
        "type": "computer_call_output",
        "call_id": call_id,
        "output": {
            "type": "computer_screenshot",
            "image_url": f"data:{screenshot.media_type};base64,{screenshot.data}",
        },
        # only what a person acknowledged: never on the person's behalf
        "acknowledged_safety_checks": list(acknowledged or []),
    }


def status_of(outcomes: list[Outcome]) -> str:
    """The call's status: its first action that did not execute decides."""
    return next((o.status for o in outcomes if o.status != "executed"), "executed")


def envelope(call_id: str, outcomes: list[Outcome], *, planned: int | None = None) -> dict[str, Any]:
    """driverseat's own record of a call (the ``driverseat`` key, on request).

    ``planned`` is how many actions the call had (to report those not run after an
    interruption). The API's item has no room for text, so what went wrong is in
    ``message``: :func:`user_message` makes it a user message to send right after the
    item, so the model learns of it.
    """
    notes = [anthropic.to_tool_result(o)["content"][0]["text"] for o in outcomes if o.status != "executed"]
    skipped = (planned or 0) - len(outcomes)
    if skipped > 0:
        notes.append(f"{skipped} later action(s) of this call were not run.")
    return {
        "call_id": call_id,
        "status": status_of(outcomes),
        "actions": [
            {"id": o.id, "action": o.action, "status": o.status, "detail": o.detail, "control": o.control}
            for o in outcomes
        ],
        "message": " ".join(notes) or None,
    }


def user_message(record: dict[str, Any]) -> dict[str, Any] | None:
    """:func:`envelope`'s message as a Responses API user message (``None``: nothing to say)."""
    message = record.get("message")
    if not message:
        return None
    return {"role": "user", "content": [{"type": "input_text", "text": message}]}
