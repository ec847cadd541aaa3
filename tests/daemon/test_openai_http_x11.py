"""OpenAI's computer_call over real HTTP: payloads shaped as the Responses API sends them."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from daemon.api.app import create_app
from daemon.control.runtime import Runtime
from daemon.control.screenshots import ScreenGrabber
from daemon.control.view import AgentView
from daemon.service import Daemon
from daemon.store import Store
from tests.daemon.live import serving
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11
TOKEN = "openai-test-token-0123456789"


@pytest.fixture(scope="module")
def api(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Runtime]]:
    from capture.screen import Screen

    with Screen(xserver) as scr:
        monitor = scr.monitors()[1]
    view = AgentView.for_monitor(monitor, 1)  # 1920x1080 seen at 1366x768
    grabber = ScreenGrabber(xserver, 1, view.agent_size, "agent")
    runtime = Runtime(display=xserver, view=view, screenshot=grabber, resume_after=0.3)
    store = Store(tmp_path_factory.mktemp("oa") / "d.db")
    try:
        with (
            serving(create_app(Daemon(runtime, store), TOKEN)) as url,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
        ):
            yield http, runtime
    finally:
        runtime.close()
        grabber.close()
        store.close()


def call(action: dict[str, Any] | None = None, actions: list[dict[str, Any]] | None = None, checks: Any = ()) -> dict[str, Any]:
    # the shape of a Responses API output item of type computer_call
    item: dict[str, Any] = {
        "type": "computer_call",
        "id": "cu_67cc",
        "call_id": "call_zw3",
        "pending_safety_checks": list(checks),
        "status": "completed",
    }
    if action is not None:
        item["action"] = action
    if actions is not None:
        item["actions"] = actions
    return item


def test_click_lands_in_agent_space_and_returns_a_screenshot(api: tuple[httpx.Client, Runtime], target: TargetWindow) -> None:
    http, _ = api
    r = http.post("/v1/openai/computer", json=call({"type": "click", "button": "left", "x": 683, "y": 384}))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["type"] == "computer_call_output" and out["call_id"] == "call_zw3"
    assert out["acknowledged_safety_checks"] == []
    url = out["output"]["image_url"]
    assert out["output"]["type"] == "computer_screenshot" and url.startswith("data:image/png;base64,")
    png = base64.b64decode(url.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.wait_for(lambda: any(e["type"] == "button_press" for e in target.events))
    press = next(e for e in target.snapshot() if e["type"] == "button_press")
    # agent (683, 384) of 1366x768 is the screen's centre pixel, within a pixel
    assert abs(press["x"] - 960) <= 1 and abs(press["y"] - 540) <= 1


def test_batched_actions_run_in_order(api: tuple[httpx.Client, Runtime], target: TargetWindow) -> None:
    http, _ = api
    r = http.post(
        "/v1/openai/computer",
        json=call(actions=[{"type": "type", "text": "hi"}, {"type": "keypress", "keys": ["ENTER"]}]),
    )
    assert r.status_code == 200, r.text
    assert r.headers["Driverseat-Status"] == "executed"
    assert len(r.headers["Driverseat-Action-Ids"].split(",")) == 2
    assert target.wait_for(lambda: sum(e["type"] == "key_press" for e in target.events) >= 3)


def test_pending_safety_checks_are_refused_and_nothing_runs(api: tuple[httpx.Client, Runtime], target: TargetWindow) -> None:
    http, runtime = api
    sent = runtime.executor.primitives_sent
    checks = [{"id": "cu_sc_1", "code": "malicious_instructions", "message": "The page asks you to ignore your instructions."}]
    r = http.post("/v1/openai/computer", json=call({"type": "click", "button": "left", "x": 5, "y": 5}, checks=checks))
    assert r.status_code == 403
    error = r.json()["error"]  # OpenAI's error object
    assert error["type"] == "permission_error"
    assert "malicious_instructions" in error["message"] and "acknowledge" in error["message"]
    runtime.backend.barrier()
    assert runtime.executor.primitives_sent == sent
    assert target.snapshot() == []


def test_bad_call_is_a_readable_422(api: tuple[httpx.Client, Runtime]) -> None:
    http, runtime = api
    sent = runtime.executor.primitives_sent
    r = http.post("/v1/openai/computer", json=call({"type": "click", "button": "left", "x": 5000, "y": 5}))
    assert r.status_code == 422
    message = r.json()["error"]["message"]
    assert "off the screen" in message or "1366x768" in message
    assert runtime.executor.primitives_sent == sent


def test_one_bad_action_in_a_batch_runs_none(api: tuple[httpx.Client, Runtime], target: TargetWindow) -> None:
    http, runtime = api
    sent = runtime.executor.primitives_sent
    batch = [{"type": "click", "button": "left", "x": 10, "y": 10}, {"type": "move", "x": 99999, "y": 1}]
    r = http.post("/v1/openai/computer", json=call(actions=batch))
    assert r.status_code == 422
    runtime.backend.barrier()
    assert runtime.executor.primitives_sent == sent
    assert target.snapshot() == []
