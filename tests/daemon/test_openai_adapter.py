"""OpenAI computer-use tool (Responses API computer_call) <-> canonical actions, and outputs.

Payload shapes follow OpenAI's computer use guide
(https://platform.openai.com/docs/guides/tools-computer-use) and the openai-python types
(src/openai/types/responses/response_computer_tool_call.py, computer_action.py): one
``action`` for computer_use_preview, a batch ``actions[]`` for the GA computer tool.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from daemon.actions import Click, Drag, Key, Move, Screenshot, Scroll, Type, Wait
from daemon.adapters.openai import (
    ACTIONS,
    SafetyCheckPending,
    envelope,
    map_key,
    to_canonical,
    to_output,
    user_message,
    wheel_clicks,
)
from daemon.errors import ActionError
from daemon.outcomes import Image, Outcome, Progress

# Verbatim from the guide's first response example (ids elided there too).
GUIDE_CLICK: dict[str, Any] = {
    "type": "computer_call",
    "id": "cu_67cc...",
    "call_id": "call_zw3...",
    "action": {"type": "click", "button": "left", "x": 156, "y": 50},
    "pending_safety_checks": [],
    "status": "completed",
}
# The guide's safety-check example: the same call shape, with a check pending.
GUIDE_SAFETY = {
    "type": "computer_call",
    "id": "cu_67cb...",
    "call_id": "call_nEJ...",
    "action": {"type": "click", "button": "left", "x": 135, "y": 193},
    "pending_safety_checks": [
        {
            "id": "cu_sc_67cb...",
            "code": "malicious_instructions",
            "message": "We've detected instructions that may cause your application to perform "
            "malicious or unauthorized actions. Please acknowledge this warning if you'd like "
            "to proceed.",
        }
    ],
    "status": "completed",
}


def call(action: dict[str, Any]) -> dict[str, Any]:
    return {"type": "computer_call", "id": "cu_1", "call_id": "call_1", "action": action,
            "pending_safety_checks": [], "status": "completed"}  # fmt: skip


def test_guide_example() -> None:
    assert to_canonical(GUIDE_CLICK) == [Click(x=156, y=50)]


CASES: list[tuple[dict[str, Any], object]] = [
    ({"type": "click", "button": "left", "x": 5, "y": 6}, Click(x=5, y=6)),
    ({"type": "click", "button": "right", "x": 5, "y": 6}, Click(x=5, y=6, button="right")),
    ({"type": "click", "button": "wheel", "x": 5, "y": 6}, Click(x=5, y=6, button="middle")),
    # a mouse's side buttons: X11 buttons 8 and 9
    ({"type": "click", "button": "back", "x": 5, "y": 6}, Click(x=5, y=6, button="back")),
    ({"type": "click", "button": "forward", "x": 5, "y": 6}, Click(x=5, y=6, button="forward")),
    # the schema requires button; the sample app's click() defaults it to left
    ({"type": "click", "x": 5, "y": 6}, Click(x=5, y=6)),
    # the GA tool's keys held while clicking
    (
        {"type": "click", "button": "left", "x": 5, "y": 6, "keys": ["CTRL", "SHIFT"]},
        Click(x=5, y=6, modifiers=("ctrl", "shift")),
    ),
    ({"type": "double_click", "x": 7, "y": 8}, Click(x=7, y=8, count=2)),
    ({"type": "scroll", "x": 10, "y": 20, "scroll_x": 0, "scroll_y": 300},
     Scroll(x=10, y=20, dx=0, dy=3)),
    ({"type": "scroll", "x": 10, "y": 20, "scroll_x": -200, "scroll_y": 0},
     Scroll(x=10, y=20, dx=-2, dy=0)),
    ({"type": "type", "text": "Hello, World!"}, Type(text="Hello, World!")),
    ({"type": "keypress", "keys": ["CTRL", "A"]}, Key(keys="ctrl+a")),
    ({"type": "keypress", "keys": ["ENTER"]}, Key(keys="Return")),
    ({"type": "wait"}, Wait(duration=2.0)),  # the guide's harness sleeps 2 s
    ({"type": "wait", "ms": 2500}, Wait(duration=2.5)),
    ({"type": "move", "x": 100, "y": 200}, Move(x=100, y=200)),
    (
        {"type": "drag", "path": [{"x": 100, "y": 200}, {"x": 150, "y": 250}, {"x": 200, "y": 300}]},
        Drag(path=((100, 200), (150, 250), (200, 300))),
    ),
    ({"type": "screenshot"}, Screenshot()),
    # no distance: the reference harness moves there and scrolls by nothing
    ({"type": "scroll", "x": 10, "y": 20, "scroll_x": 0, "scroll_y": 0}, Move(x=10, y=20)),
]  # fmt: skip


@pytest.mark.parametrize(("action", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_each_action(action: dict[str, Any], expected: object) -> None:
    assert to_canonical(call(action)) == [expected]


def test_every_action_type_is_covered() -> None:
    assert {c[0]["type"] for c in CASES} == set(ACTIONS)


def test_batched_actions_in_order() -> None:
    batch = {
        "type": "computer_call",
        "id": "cu_2",
        "call_id": "call_2",
        "actions": [
            {"type": "screenshot"},
            {"type": "click", "button": "left", "x": 190, "y": 450},
            {"type": "type", "text": "penguin"},
            {"type": "keypress", "keys": ["ENTER"]},
        ],
        "pending_safety_checks": [],
        "status": "completed",
    }
    assert to_canonical(batch) == [
        Screenshot(),
        Click(x=190, y=450),
        Type(text="penguin"),
        Key(keys="Return"),
    ]


def test_a_bad_action_in_a_batch_refuses_the_whole_call() -> None:
    batch = {"call_id": "c", "actions": [{"type": "screenshot"}, {"type": "fly"}]}
    with pytest.raises(ActionError, match=r"^actions\[1\]: unknown action type 'fly'"):
        to_canonical(batch)


@pytest.mark.parametrize(
    ("keys", "combo"),
    [
        (["CTRL", "A"], "ctrl+a"),
        (["ctrl", "shift", "t"], "ctrl+shift+t"),
        (["ALT", "TAB"], "alt+Tab"),
        (["CMD", "C"], "super+c"),
        (["META", "V"], "super+v"),
        (["SUPER"], "super"),
        (["WIN", "E"], "super+e"),
        (["ESC"], "Escape"),
        (["ArrowLeft"], "Left"),
        (["ARROWDOWN"], "Down"),
        (["SPACE"], "space"),
        (["BACKSPACE"], "BackSpace"),
        (["DELETE"], "Delete"),
        (["PAGEUP"], "Page_Up"),
        (["PAGEDOWN"], "Page_Down"),
        (["HOME"], "Home"),
        (["END"], "End"),
        (["F5"], "F5"),
        (["f12"], "F12"),
        (["CTRL", "+"], "ctrl+plus"),
        (["CTRL", "-"], "ctrl+minus"),
        (["CTRL", "/"], "ctrl+/"),
        (["SHIFT", "1"], "shift+1"),
        ([" "], "space"),
    ],
)
def test_keypress_combos(keys: list[str], combo: str) -> None:
    assert to_canonical(call({"type": "keypress", "keys": keys})) == [Key(keys=combo)]


def test_x_key_names_pass_through() -> None:
    assert map_key("KP_Enter") == "KP_Enter"


@pytest.mark.parametrize(
    ("pixels", "clicks"),
    [(0, 0), (1, 1), (30, 1), (-30, -1), (100, 1), (149, 1), (150, 2), (-250, -3), (420, 4),
     (10_000, 100)],
)  # fmt: skip
def test_scroll_pixels_to_wheel_clicks(pixels: int, clicks: int) -> None:
    assert wheel_clicks(pixels) == clicks


def test_huge_scroll_is_refused() -> None:
    with pytest.raises(ActionError, match="scroll_y of 20000 px is more than one action"):
        to_canonical(call({"type": "scroll", "x": 1, "y": 1, "scroll_x": 0, "scroll_y": 20_000}))


def test_pending_safety_checks_refuse_the_call() -> None:
    with pytest.raises(SafetyCheckPending) as info:
        to_canonical(GUIDE_SAFETY)
    msg = str(info.value)
    assert "malicious_instructions" in msg
    assert "We've detected instructions" in msg
    assert "a person must acknowledge" in msg
    assert "never acknowledges them itself" in msg
    assert "nothing was executed" in msg
    assert info.value.details["checks"] == GUIDE_SAFETY["pending_safety_checks"]
    assert isinstance(info.value, ActionError)  # a 4xx: nothing runs


def test_every_safety_check_is_listed_even_in_a_batch() -> None:
    batch = {
        "call_id": "call_confirm",
        "actions": [{"type": "screenshot"}, {"type": "click", "button": "left", "x": 1, "y": 2}],
        "pending_safety_checks": [
            {"id": "sc_1", "code": "irrelevant_domain", "message": "Off task."},
            {"id": "sc_2", "code": "sensitive_domain", "message": "A bank."},
        ],
    }
    with pytest.raises(SafetyCheckPending, match="2 pending safety check") as info:
        to_canonical(batch)
    assert "irrelevant_domain: Off task." in str(info.value)
    assert "sensitive_domain: A bank." in str(info.value)


BAD: list[tuple[dict[str, Any], str]] = [
    ({"call_id": "c"}, 'needs "action" (or "actions")'),
    ({"action": {"type": "fly"}}, "unknown action type 'fly'; the computer tool has: click"),
    ({"action": {"x": 1}}, "unknown action type None"),
    ({"action": {"type": "click", "button": "left", "x": 1}}, 'click needs "y"'),
    ({"action": {"type": "click", "button": "left", "x": -1, "y": 1}}, "x must not be negative"),
    ({"action": {"type": "click", "button": "left", "x": 1.5, "y": 1}}, "x must be a whole"),
    ({"action": {"type": "click", "button": "left", "x": True, "y": 1}}, "x must be a whole"),
    ({"action": {"type": "click", "button": "top", "x": 1, "y": 1}}, "button must be left, right"),
    ({"action": {"type": "click", "button": {"b": 1}, "x": 1, "y": 1}}, "button must be left, right"),
    ({"action": {"type": "click", "x": 1, "y": 1, "z": 2}}, "click does not take z"),
    ({"action": {"type": "keypress", "keys": []}}, '"keys" must be a list of key names'),
    ({"action": {"type": "keypress"}}, 'keypress needs "keys"'),
    ({"action": {"type": "keypress", "keys": "ctrl+a"}}, '"keys" must be a list'),
    ({"action": {"type": "keypress", "keys": ["CTRL", "NOPE"]}}, "unknown key 'NOPE'"),
    ({"action": {"type": "type", "text": ""}}, 'type needs "text"'),
    ({"action": {"type": "type", "text": "a\x07b"}}, "type: text: character 1 cannot be typed"),
    ({"action": {"type": "scroll", "x": 1, "y": 1, "scroll_x": 0, "scroll_y": 0, "keys": ["CTRL"]}},
     "scroll_x and scroll_y are both 0"),
    # both distances are required by the schema (the sample app's scroll() takes no default)
    ({"action": {"type": "scroll", "x": 1, "y": 1, "scroll_y": 100}}, 'scroll needs "scroll_x"'),
    ({"action": {"type": "scroll", "x": 1, "y": 1, "scroll_x": 0}}, 'scroll needs "scroll_y"'),
    ({"action": {"type": "wait", "ms": 90_000}}, "wait: ms must be at most 60000"),
    ({"action": {"type": "drag", "path": [{"x": 1, "y": 1}]}}, 'drag needs "path"'),
    ({"action": {"type": "drag", "path": [{"x": 1, "y": 1}, [2, 2]]}}, "path[1] must be an object"),
    ({"action": {"type": "move", "x": 1, "y": 1, "keys": ["SHIFT"]}}, "keys held is not supported"),
    ({"action": {"type": "screenshot"}, "actions": [{"type": "screenshot"}]}, "not both"),
    ({"actions": []}, '"actions" must be a non-empty list'),
    ({"type": "function_call", "action": {"type": "screenshot"}}, "expected a computer_call"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_input_is_one_sentence(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ActionError) as info:
        to_canonical(bad)
    assert message in str(info.value)
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)


def test_not_an_object() -> None:
    with pytest.raises(ActionError, match="must be a JSON object, got list"):
        to_canonical([])  # type: ignore[arg-type]


# -- outputs ----------------------------------------------------------------------------------

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
SHOT = Image(media_type="image/png", data=PNG, width=1280, height=800, space="agent")


def test_output_item_shape() -> None:
    """Exactly the SDK's input item, nothing of driverseat's own."""
    out = to_output("call_1", [Outcome(id="a1", action="click", status="executed")], SHOT)
    assert out == {
        "type": "computer_call_output",
        "call_id": "call_1",
        "output": {"type": "computer_screenshot", "image_url": f"data:image/png;base64,{PNG}"},
        "acknowledged_safety_checks": [],
    }
    record = envelope("call_1", [Outcome(id="a1", action="click", status="executed")])
    assert record["status"] == "executed" and record["message"] is None
    assert record["actions"] == [
        {"id": "a1", "action": "click", "status": "executed", "detail": "", "control": "agent"}
    ]
    assert user_message(record) is None


def test_interruption_keeps_the_screenshot_and_explains() -> None:
    outcomes = [
        Outcome(id="a1", action="click", status="executed"),
        Outcome(id="a2", action="type", status="interrupted", control="human",
                progress=Progress(done=3, total=7, unit="characters")),
    ]  # fmt: skip
    out = to_output("call_9", outcomes, SHOT)
    assert out["output"]["image_url"].endswith(PNG) and "driverseat" not in out
    ds = envelope("call_9", outcomes, planned=4)
    assert ds["status"] == "interrupted"
    assert [a["status"] for a in ds["actions"]] == ["executed", "interrupted"]
    assert "a person took control" in ds["message"]
    assert "typed 3 of 7 characters" in ds["message"]
    assert "2 later action(s) of this call were not run" in ds["message"]
    assert user_message(ds) == {"role": "user", "content": [{"type": "input_text", "text": ds["message"]}]}


def test_screenshot_falls_back_to_the_last_outcome() -> None:
    out = to_output("c", [Outcome(id="a", action="screenshot", status="executed",
                                  screenshot=SHOT)], None)  # fmt: skip
    assert out["output"]["image_url"] == f"data:image/png;base64,{PNG}"


def test_output_without_any_screenshot_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="needs a screenshot"):
        to_output("c", [Outcome(id="a", action="click", status="executed")], None)


@pytest.mark.parametrize(
    "checks", ["yes", [1], {"id": "x"}, ["x"], [{"id": 5}], [None], [{"code": "x"}], [{"id": ""}],
               [{"id": "a", "message": 3}]],
)  # fmt: skip
def test_malformed_safety_checks_never_pass_for_none(checks: object) -> None:
    from daemon.adapters.openai import safety_checks

    call = {**GUIDE_SAFETY, "pending_safety_checks": checks}
    with pytest.raises(ActionError, match="pending_safety_checks"):
        safety_checks(call)
    for person in (False, True):
        with pytest.raises(ActionError, match="pending_safety_checks"):
            to_canonical(call, checks_go_to_a_person=person)
