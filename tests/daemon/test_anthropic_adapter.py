"""Anthropic computer tool (computer_20250124) <-> canonical actions, and tool results."""

from __future__ import annotations

from typing import Any

import pytest

from daemon.actions import (
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
from daemon.adapters.anthropic import (
    ACTIONS,
    envelope,
    error_result,
    needs_cursor,
    to_canonical,
    to_tool_result,
)
from daemon.errors import ActionError
from daemon.outcomes import HumanActivity, Image, Outcome, Progress

CASES: list[tuple[dict[str, Any], object]] = [
    ({"action": "key", "text": "ctrl+s"}, Key(keys="ctrl+s")),
    ({"action": "key", "text": "Return"}, Key(keys="Return")),
    # the schema's repeat: the same combo pressed again, one xdotool word each time
    ({"action": "key", "text": "Down", "repeat": 3}, Key(keys="Down Down Down")),
    ({"action": "key", "text": "ctrl+z", "repeat": 1}, Key(keys="ctrl+z")),
    ({"action": "type", "text": "Hello, World!"}, Type(text="Hello, World!")),
    ({"action": "mouse_move", "coordinate": [100, 200]}, Move(x=100, y=200)),
    ({"action": "left_click", "coordinate": [5, 6]}, Click(x=5, y=6)),
    ({"action": "right_click", "coordinate": [5, 6]}, Click(x=5, y=6, button="right")),
    ({"action": "middle_click", "coordinate": [5, 6]}, Click(x=5, y=6, button="middle")),
    ({"action": "double_click", "coordinate": [5, 6]}, Click(x=5, y=6, count=2)),
    ({"action": "triple_click", "coordinate": [5, 6]}, Click(x=5, y=6, count=3)),
    (
        {"action": "left_click", "coordinate": [5, 6], "text": "shift"},
        Click(x=5, y=6, modifiers=("shift",)),
    ),
    (
        {"action": "left_click", "coordinate": [5, 6], "text": "ctrl+shift"},
        Click(x=5, y=6, modifiers=("ctrl", "shift")),
    ),
    # the reference implementation sends the modifiers as "key"
    (
        {"action": "left_click", "coordinate": [5, 6], "key": "ctrl"},
        Click(x=5, y=6, modifiers=("ctrl",)),
    ),
    (
        {"action": "left_click_drag", "start_coordinate": [1, 2], "coordinate": [30, 40]},
        Drag(path=((1, 2), (30, 40))),
    ),
    (
        {"action": "left_click_drag", "start_coordinate": [1, 2], "coordinate": [30, 40],
         "text": "shift"},
        Drag(path=((1, 2), (30, 40)), modifiers=("shift",)),
    ),
    ({"action": "left_mouse_down"}, MouseDown(button="left")),
    ({"action": "left_mouse_up"}, MouseUp(button="left")),
    ({"action": "left_mouse_down", "coordinate": [7, 8]}, MouseDown(button="left", x=7, y=8)),
    (
        {
            "action": "scroll",
            "coordinate": [50, 60],
            "scroll_direction": "down",
            "scroll_amount": 3,
        },
        Scroll(x=50, y=60, dy=3),
    ),
    ({"action": "scroll", "scroll_direction": "up", "scroll_amount": 2}, Scroll(dy=-2)),
    ({"action": "scroll", "scroll_direction": "left", "scroll_amount": 1}, Scroll(dx=-1)),
    (
        {"action": "scroll", "scroll_direction": "right", "scroll_amount": 4, "text": "shift"},
        Scroll(dx=4, modifiers=("shift",)),
    ),
    ({"action": "hold_key", "text": "shift", "duration": 1.5}, HoldKey(keys="shift", duration=1.5)),
    ({"action": "wait", "duration": 2}, Wait(duration=2.0)),
    ({"action": "screenshot"}, Screenshot()),
    ({"action": "cursor_position"}, CursorPosition()),
    ({"action": "zoom", "region": [10, 20, 110, 80]}, Zoom(region=(10, 20, 110, 80))),
    # null fields are how some SDKs spell "absent"
    ({"action": "screenshot", "coordinate": None, "text": None}, Screenshot()),
    ({"action": "left_click", "coordinate": [5.0, 6.0]}, Click(x=5, y=6)),
]


@pytest.mark.parametrize(
    ("inp", "expected"), CASES, ids=[f"{c[0]['action']}-{i}" for i, c in enumerate(CASES)]
)
def test_maps_to_canonical(inp: dict[str, Any], expected: object) -> None:
    assert to_canonical(inp) == expected


def test_every_tool_action_is_covered() -> None:
    assert {c[0]["action"] for c in CASES} == set(ACTIONS)
    assert len(ACTIONS) == 17  # computer_20250124's 16, and computer_20251124's zoom


@pytest.mark.parametrize(
    "inp",
    [{"action": "zoom"}, {"action": "zoom", "region": [10, 20, 5, 80]}, {"action": "zoom", "region": [1, 2, 3]},
     {"action": "zoom", "region": [0, 0, 1.5, 3]}],
)
def test_bad_zoom_regions_are_sentences(inp: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ActionError, match="region"):
        to_canonical(inp)


def test_clicks_without_coordinate_use_the_cursor() -> None:
    inp = {"action": "left_click"}
    assert needs_cursor(inp)
    assert to_canonical(inp, cursor=(11, 12)) == Click(x=11, y=12)
    # a drag is never guessed from the pointer: the schema requires start_coordinate
    drag = {"action": "left_click_drag", "coordinate": [30, 40]}
    assert not needs_cursor(drag)
    with pytest.raises(ActionError, match='left_click_drag needs "start_coordinate"'):
        to_canonical(drag, cursor=(1, 1))
    assert not needs_cursor({"action": "left_click", "coordinate": [1, 2]})
    assert not needs_cursor({"action": "type", "text": "x"})
    with pytest.raises(ActionError, match='needs "coordinate"'):
        to_canonical(inp)


BAD: list[tuple[Any, str]] = [
    ({"action": "fly"}, "unknown computer action 'fly'"),
    ({}, "unknown computer action None"),
    ([1, 2], "must be a JSON object"),
    ({"action": "key"}, 'key needs "text"'),
    ({"action": "key", "text": "ctrl+nokey"}, "key: text: unknown key name 'nokey'"),
    ({"action": "type", "text": ""}, 'type needs "text"'),
    ({"action": "type", "text": "a\x00b"}, "type: text: character 1 cannot be typed"),
    ({"action": "type", "text": "hi", "coordinate": [1, 2]}, "type does not take coordinate"),
    ({"action": "mouse_move"}, 'mouse_move needs "coordinate"'),
    ({"action": "mouse_move", "coordinate": [1]}, "must be a list of two numbers"),
    ({"action": "mouse_move", "coordinate": [1, float("nan")]}, "non-negative whole numbers"),
    ({"action": "mouse_move", "coordinate": [-1, 5]}, "non-negative whole numbers"),
    ({"action": "mouse_move", "coordinate": [1.5, 5]}, "non-negative whole numbers"),
    ({"action": "mouse_move", "coordinate": ["1", 5]}, "two numbers"),
    ({"action": "mouse_move", "coordinate": [True, 5]}, "two numbers"),
    (
        {"action": "left_click", "coordinate": [1, 2], "text": "notamodifier"},
        "left_click: text: unknown key name",
    ),
    (
        {"action": "left_click_drag", "start_coordinate": [1, 2]},
        'left_click_drag needs "coordinate"',
    ),
    ({"action": "scroll", "scroll_amount": 3}, "scroll_direction"),
    ({"action": "scroll", "scroll_direction": "sideways", "scroll_amount": 3}, "scroll_direction"),
    ({"action": "scroll", "scroll_direction": "up", "scroll_amount": 0}, "scroll_amount"),
    # required by the schema, refused by the reference tool: never a default of 3
    ({"action": "scroll", "scroll_direction": "down"}, 'scroll needs "scroll_amount"'),
    ({"action": "scroll", "scroll_direction": "down", "scroll_amount": None}, 'scroll needs "scroll_amount"'),
    ({"action": "key", "text": "a", "repeat": 0}, "repeat must be a whole number from 1 to 100"),
    ({"action": "key", "text": "a", "repeat": 101}, "repeat must be a whole number from 1 to 100"),
    ({"action": "key", "text": "a", "repeat": True}, "repeat must be a whole number"),
    ({"action": "type", "text": "a", "repeat": 2}, "type does not take repeat"),
    ({"action": "wait", "duration": 101}, "wait: duration 101 is too long (at most 100 s)"),
    ({"action": "wait", "duration": 90}, "longer than driverseat runs one action (60 s)"),
    ({"action": "scroll", "scroll_direction": "up", "scroll_amount": -2}, "scroll_amount"),
    ({"action": "hold_key", "text": "shift"}, 'hold_key needs "duration"'),
    ({"action": "hold_key", "text": "shift", "duration": 500}, "hold_key: duration 500 is too long"),
    ({"action": "wait", "duration": -1}, "wait: duration must be non-negative"),
    ({"action": "wait", "duration": float("inf")}, 'wait needs "duration"'),
    ({"action": "screenshot", "coordinate": [1, 2]}, "screenshot does not take coordinate"),
    ({"action": "screenshot", "zoom": 2}, "unknown field(s) zoom"),
]


@pytest.mark.parametrize(("inp", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_raises_a_sentence(inp: Any, message: str) -> None:
    with pytest.raises(ActionError) as info:
        to_canonical(inp)
    text = str(info.value)
    assert message in text
    assert "\n" not in text and "pydantic" not in text.lower()


# -- results ---------------------------------------------------------------------------------

SHOT = Image(media_type="image/png", data="iVBORw0KGgo=", width=2, height=1)


def test_executed_with_screenshot() -> None:
    r = to_tool_result(Outcome(id="x", action="screenshot", status="executed", screenshot=SHOT))
    assert r["is_error"] is False
    assert r["content"][0]["type"] == "text"
    assert r["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    assert "driverseat" not in r and "type" not in r  # the bare input's answer
    assert envelope(Outcome(id="x", action="screenshot", status="executed")) == {
        "id": "x",
        "status": "executed",
        "action": "screenshot",
        "control": "agent",
        "elapsed_ms": 0.0,
    }


def test_a_tool_use_id_makes_a_whole_tool_result_block() -> None:
    r = to_tool_result(Outcome(id="x", action="left_click", status="executed"), "toolu_01A")
    assert r == {"type": "tool_result", "tool_use_id": "toolu_01A",
                 "content": [{"type": "text", "text": "Done."}], "is_error": False}  # fmt: skip
    e = error_result("no such key", "toolu_01B")
    assert e == {"type": "tool_result", "tool_use_id": "toolu_01B",
                 "content": [{"type": "text", "text": "Error: no such key"}], "is_error": True}  # fmt: skip


def test_cursor_position_text() -> None:
    r = to_tool_result(
        Outcome(
            id="c", action="cursor_position", status="executed", detail="X=3,Y=4", cursor=(3, 4)
        )
    )
    assert r["content"] == [{"type": "text", "text": "X=3,Y=4"}]


def test_interrupted_tells_the_model_what_happened() -> None:
    out = Outcome(
        id="t", action="type", status="interrupted", control="human",
        detail="characters: 37 of 120 done before a person is using the mouse",
        progress=Progress(done=37, total=120, unit="characters"),
    )  # fmt: skip
    r = to_tool_result(out)
    assert r["is_error"] is True
    text = r["content"][0]["text"]
    assert text.startswith("Interrupted: a person took control")
    assert "typed 37 of 120 characters" in text
    assert text.endswith("Take a screenshot before continuing.")


def test_interrupted_before_start_and_stopped() -> None:
    r = to_tool_result(Outcome(id="s", action="click", status="interrupted", control="stopped"))
    text = r["content"][0]["text"]
    assert "stopped" in text and "nothing was done" in text and "resume" in text
    assert r["is_error"] is True


def test_human_activity_summary_reaches_the_model() -> None:
    act = HumanActivity(seconds=3.0, text="hello")
    out = Outcome(
        id="h",
        action="click",
        status="executed",
        detail=act.summary(),
        human_activity=act,
        screenshot=SHOT,
    )
    r = to_tool_result(out)
    assert "typed 'hello'" in r["content"][0]["text"]
    assert r["content"][1]["type"] == "image"


@pytest.mark.parametrize(("status", "prefix", "is_error"), [
    ("error", "Error: ", True), ("denied", "Denied: ", True),
    ("rejected", "Rejected by the person: ", True),
    ("corrected", "Corrected by the person: ", True),
])  # fmt: skip
def test_other_statuses(status: str, prefix: str, is_error: bool) -> None:
    r = to_tool_result(Outcome(id="o", action="click", status=status, detail="why"))  # type: ignore[arg-type]
    assert r["content"][0]["text"] == prefix + "why"
    assert r["is_error"] is is_error
