"""The recorder's plain dataclasses -> canonical actions (daemon.actions) -> pyautogui code.

capture/ knows nothing of the daemon, so :mod:`capture.recorder` emits its own small
dataclasses; here they become the canonical actions every agent dialect translates to,
in screen pixels (``space: "screen"``), validated by the same models as an agent's.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from capture.recorder import Click, Drag, HumanAction, KeyCombo, Scroll, TypeText
from daemon.actions import parse_action

__all__ = ["canonical", "points", "pyautogui_code"]


def canonical(a: HumanAction) -> dict[str, Any]:
    """The canonical action (as JSON) for one recorded action.

    Raises ValueError for an action the canonical models refuse (a key no name exists
    for): the caller logs it and records nothing rather than something no agent could send.
    """
    data: dict[str, Any]
    if isinstance(a, Click):
        data = {"action": "click", "x": a.x, "y": a.y, "button": a.button, "count": a.count,
                "modifiers": list(a.modifiers)}  # fmt: skip
    elif isinstance(a, Drag):
        data = {"action": "drag", "path": [list(p) for p in a.path], "button": a.button,
                "modifiers": list(a.modifiers), "duration": round(max(0.0, a.end - a.start), 3)}  # fmt: skip
    elif isinstance(a, Scroll):
        data = {"action": "scroll", "x": a.x, "y": a.y, "dx": a.dx, "dy": a.dy,
                "modifiers": list(a.modifiers)}  # fmt: skip
    elif isinstance(a, TypeText):
        data = {"action": "type", "text": a.text}
    elif isinstance(a, KeyCombo):
        data = {"action": "key", "keys": a.keys}
    else:
        raise TypeError(f"not a recorded action: {a!r}")
    data["space"] = "screen"
    try:
        model = parse_action(data)
    except ValidationError as exc:
        raise ValueError(f"{data} is not a canonical action: {exc}") from None
    return model.model_dump(mode="json", exclude_none=True, exclude_defaults=False)


def points(action: dict[str, Any]) -> list[tuple[int, int]]:
    """The action's points in screen pixels: one for a click or scroll, start and end of a
    drag, none for keys and text."""
    if action["action"] == "drag":
        path = action["path"]
        return [(int(path[0][0]), int(path[0][1])), (int(path[-1][0]), int(path[-1][1]))]
    if action.get("x") is not None and action.get("y") is not None:
        return [(int(action["x"]), int(action["y"]))]
    return []


# xdotool/X names -> pyautogui's KEY_NAMES
_PYAUTOGUI_KEYS = {
    "return": "enter", "kp_enter": "enter", "escape": "esc", "backspace": "backspace",
    "prior": "pageup", "next": "pagedown", "super": "win", "super_l": "win", "super_r": "winright",
    "control_l": "ctrl", "control_r": "ctrlright", "alt_l": "alt", "alt_r": "altright",
    "shift_l": "shift", "shift_r": "shiftright", "caps_lock": "capslock", "print": "printscreen",
    "num_lock": "numlock", "scroll_lock": "scrolllock", "altgr": "altright", "menu": "apps",
}  # fmt: skip


def _key(name: str) -> str:
    low = name.lower()
    return _PYAUTOGUI_KEYS.get(low, low if len(name) > 1 else name)


def pyautogui_code(action: dict[str, Any]) -> str:
    """The same action as pyautogui code (the form OSWorld-style trajectories use)."""
    kind = action["action"]
    mods = [_key(m) for m in action.get("modifiers", ())]
    lines: list[str]
    if kind == "click":
        fn = {1: "click", 2: "doubleClick", 3: "tripleClick"}[int(action.get("count", 1))]
        button = "" if action.get("button", "left") == "left" else f", button={action['button']!r}"
        lines = [f"pyautogui.{fn}(x={action['x']}, y={action['y']}{button})"]
    elif kind == "drag":
        (x0, y0), (x1, y1) = action["path"][0], action["path"][-1]
        drag_to = (
            f"pyautogui.dragTo({x1}, {y1}, duration={action.get('duration', 0.3)}, "
            f"button={action.get('button', 'left')!r})"
        )
        lines = [f"pyautogui.moveTo({x0}, {y0})", drag_to]
    elif kind == "scroll":
        lines = []
        if action.get("dy"):
            # pyautogui: positive scrolls up; ours: + is down
            lines.append(f"pyautogui.scroll({-int(action['dy'])}, x={action['x']}, y={action['y']})")
        if action.get("dx"):
            lines.append(f"pyautogui.hscroll({int(action['dx'])}, x={action['x']}, y={action['y']})")
    elif kind == "type":
        return f"pyautogui.write({action['text']!r})"
    elif kind == "key":
        combos = [[_key(k) for k in combo.split("+")] for combo in str(action["keys"]).split()]
        return "\n".join(
            f"pyautogui.press({c[0]!r})" if len(c) == 1
            else "pyautogui.hotkey(" + ", ".join(repr(k) for k in c) + ")"
            for c in combos
        )  # fmt: skip
    else:
        raise ValueError(f"no pyautogui form for {kind!r}")
    if mods:
        lines = [f"pyautogui.keyDown({m!r})" for m in mods] + lines
        lines += [f"pyautogui.keyUp({m!r})" for m in reversed(mods)]
    return "\n".join(lines)
