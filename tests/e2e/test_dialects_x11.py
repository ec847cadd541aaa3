"""The dialects as the vendors define them (docs/dialects.md), end to end: a real
`driverseat serve --policy off` on Xvfb, a real target window logging what reached the
desktop, answers judged by the vendors' own SDK types. Each test names the behaviour
that makes it fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import vendor_shapes
from tests.e2e.live_daemon import Daemon, agent_events, barrier, near, screen_xy, typed
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

ANTHROPIC, OPENAI = "/v1/anthropic/computer", "/v1/openai/computer"


@pytest.fixture(scope="module")
def plain(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(xserver, tmp_path_factory.mktemp("dialects"), Path("off"), extra=["--settle-ms", "50"])
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def vendor(plain: Daemon) -> Iterator[httpx.Client]:
    with plain.vendor() as http:
        yield http


def _call(action: dict[str, Any], call_id: str = "call_e2e") -> dict[str, Any]:
    return {"type": "computer_call", "id": "cu_e2e", "call_id": call_id, "action": action,
            "pending_safety_checks": [], "status": "completed"}  # fmt: skip


def test_openai_back_and_forward_are_mouse_buttons_8_and_9(
    vendor: httpx.Client, target: TargetWindow
) -> None:
    for button in ("back", "forward"):
        r = vendor.post(OPENAI, json=_call({"type": "click", "button": button, "x": 400, "y": 300}))
        assert r.status_code == 200, r.text
        vendor_shapes.openai_call_output(r.json(), "call_e2e")
    spot = screen_xy(400, 300)

    def pressed() -> list[int]:
        return [e["detail"] for e in agent_events(target) if e["type"] == "button_press" and near(e, spot)]

    assert target.wait_for(lambda: pressed() == [8, 9], 10), pressed()


def test_a_tool_use_block_gets_its_tool_result_with_a_screenshot_after(
    vendor: httpx.Client, target: TargetWindow
) -> None:
    block = {"type": "tool_use", "id": "toolu_e2e_1", "name": "computer",
             "input": {"action": "left_click", "coordinate": [500, 400]}}  # fmt: skip
    r = vendor.post(ANTHROPIC, json=block)
    assert r.status_code == 200 and r.headers["Driverseat-Status"] == "executed", r.text[:300]
    content = vendor_shapes.anthropic_tool_result(r.json(), "toolu_e2e_1")
    # the reference tool answers a click with the screen after it
    assert [c["type"] for c in content] == ["text", "image"]
    spot = screen_xy(500, 400)
    assert target.wait_for(lambda: any(e["type"] == "button_release" and near(e, spot)
                                       for e in agent_events(target)), 10)  # fmt: skip


def test_no_screenshot_after_is_a_serve_option(xserver: str, tmp_path: Path, target: TargetWindow) -> None:
    d = Daemon(xserver, tmp_path / "data", Path("off"), extra=["--no-screenshot-after"])
    try:
        with d.vendor() as http:
            click = http.post(ANTHROPIC, json={"action": "left_click", "coordinate": [10, 10]}).json()
            shot = http.post(ANTHROPIC, json={"action": "screenshot"}).json()
    finally:
        d.close()
    assert [c["type"] for c in click["content"]] == ["text"]
    assert [c["type"] for c in shot["content"]] == ["text", "image"]  # a screenshot is still one


@pytest.mark.parametrize(
    ("inp", "said"),
    [
        # the schema requires start_coordinate: never a drag from wherever the pointer is
        ({"action": "left_click_drag", "coordinate": [600, 500]}, 'needs "start_coordinate"'),
        # the reference tool refuses a scroll without scroll_amount: never a default of 3
        ({"action": "scroll", "coordinate": [600, 500], "scroll_direction": "down"}, 'needs "scroll_amount"'),
    ],
)
def test_underspecified_anthropic_actions_are_refused_with_an_error_result(
    plain: Daemon, vendor: httpx.Client, target: TargetWindow, inp: dict[str, Any], said: str
) -> None:
    block = {"type": "tool_use", "id": "toolu_e2e_2", "name": "computer", "input": inp}
    r = vendor.post(ANTHROPIC, json=block)
    assert r.status_code == 422
    content = vendor_shapes.anthropic_tool_result(r.json(), "toolu_e2e_2")
    assert r.json()["is_error"] is True and said in content[0]["text"]
    assert barrier(plain, target) == []


@pytest.mark.parametrize("call_id", [None, "", {"id": "call_1"}, 12345, "x" * 65])
def test_openai_call_id_must_be_a_string_of_1_to_64(
    plain: Daemon, vendor: httpx.Client, target: TargetWindow, call_id: Any
) -> None:
    call = _call({"type": "click", "button": "left", "x": 600, "y": 500})
    if call_id is None:
        del call["call_id"]
    else:
        call["call_id"] = call_id
    r = vendor.post(OPENAI, json=call)
    assert r.status_code == 422, r.text[:300]
    error = r.json()["error"]  # OpenAI's error object
    assert error["type"] == "invalid_request_error" and "call_id" in error["message"], error
    assert barrier(plain, target) == []


def test_the_driverseat_envelope_is_opt_in(plain: Daemon, vendor: httpx.Client) -> None:
    bare = vendor.post(ANTHROPIC, json={"action": "cursor_position"})
    assert "driverseat" not in bare.json() and bare.headers["Driverseat-Action-Ids"]
    by_query = vendor.post(ANTHROPIC, params={"envelope": "1"}, json={"action": "cursor_position"})
    by_header = vendor.post(ANTHROPIC, headers={"Driverseat-Envelope": "1"}, json={"action": "cursor_position"})
    for r in (by_query, by_header):
        record = r.json()["driverseat"]
        assert record["status"] == "executed" and record["id"] == r.headers["Driverseat-Action-Ids"]
    out = vendor.post(OPENAI, params={"envelope": "1"}, json=_call({"type": "screenshot"})).json()
    assert out["driverseat"]["call_id"] == "call_e2e" and out["driverseat"]["status"] == "executed"


def test_openai_wait_lasts_the_guides_2_s_or_the_ms_given(vendor: httpx.Client) -> None:
    for action, seconds in (({"type": "wait"}, 2.0), ({"type": "wait", "ms": 300}, 0.3)):
        r = vendor.post(OPENAI, json=_call(action))
        assert r.status_code == 200, r.text[:300]
        stored = vendor.get(f"/v1/actions/{r.headers['Driverseat-Action-Ids']}").json()
        assert stored["action"]["duration"] == seconds, stored


def test_anthropic_key_repeat_presses_the_key_again(vendor: httpx.Client, target: TargetWindow) -> None:
    r = vendor.post(ANTHROPIC, json={"action": "key", "text": "x", "repeat": 3})
    assert r.status_code == 200 and r.headers["Driverseat-Status"] == "executed", r.text[:300]
    assert target.wait_for(lambda: typed(target) == "xxx", 10), typed(target)
