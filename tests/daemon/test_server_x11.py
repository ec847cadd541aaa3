"""The API over real HTTP against a real X server: auth, validation, execution, takeover.

One daemon (uvicorn in a background thread, on a free loopback port) serves the whole
module; every test gets a fresh target window and starts with the agent in control.
"Nothing was executed" is proven with a marker action: X delivers events in order, so
once the marker's click has arrived, anything sent before it would have arrived too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from capture.input.keys import char_for_keysym
from daemon.api.app import WS_CLOSE_UNAUTHORIZED, create_app
from daemon.control.runtime import Runtime
from daemon.control.screenshots import ScreenGrabber, png_size
from daemon.service import Daemon as Service
from daemon.store import Store
from tests.daemon.live import poll, serving

pytestmark = pytest.mark.x11

TOKEN = "test-token-0123456789abcdefghijklmnopqrstuv"
SHIFT_L = 0xFFE1


@dataclass
class Daemon:
    url: str
    ws_url: str
    runtime: Runtime
    store: Store
    http: httpx.Client

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.http.post(path, json=body, **kw)

    def recorded(self, action_id: str) -> dict[str, Any]:
        """The action's row as ``GET /v1/actions/{id}`` gives it, right after its answer.
        Through the API, not the store: an unheld action's outcome is written just after
        its answer leaves, before the daemon reads the next request (daemon/recording.py),
        so a read of the store from here could come before it."""
        r = self.http.get(f"/v1/actions/{action_id}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found


@pytest.fixture(scope="module")
def daemon(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    grabber = ScreenGrabber(xserver)
    runtime = Runtime(display=xserver, resume_after=0.3, screenshot=grabber)
    store = Store(tmp_path_factory.mktemp("store") / "driverseat.db")
    app = create_app(Service(runtime, store), TOKEN)
    with serving(app) as url:
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        try:
            yield Daemon(url, url.replace("http://", "ws://") + "/v1/events", runtime, store, http)
        finally:
            http.close()
            runtime.close()
        grabber.close()
        store.close()


@pytest.fixture(autouse=True)
def agent_in_control(daemon: Daemon) -> None:
    daemon.post("/v1/control/resume")
    assert poll(lambda: daemon.runtime.intervention.state == "agent")


def presses(target: Any, kind: str = "button_press") -> list[tuple[int, int]]:
    return [(e["x"], e["y"]) for e in target.snapshot() if e["type"] == kind]


def marker(daemon: Daemon, target: Any, x: int, y: int) -> None:
    """Click (x, y) through the API and wait until the window has seen it."""
    r = daemon.post("/v1/actions", {"action": "click", "x": x, "y": y})
    assert r.json()["status"] == "executed", r.text
    assert target.wait_for(lambda: (x, y) in presses(target), timeout=5)


def typed(target: Any) -> str:
    out = []
    for e in target.snapshot():
        if e["type"] == "key_press" and e["keysym"] != SHIFT_L:
            out.append(char_for_keysym(e["keysym"]) or "?")
    return "".join(out)


# -- auth ------------------------------------------------------------------------------------


def test_requests_without_the_token_get_401_and_nothing_runs(daemon: Daemon, target: Any) -> None:
    click = {"action": "click", "x": 100, "y": 100}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = httpx.post(daemon.url + "/v1/actions", json=click, headers=headers)
        assert r.status_code == 401
        assert "bearer token" in r.json()["error"]
        assert r.headers["www-authenticate"] == "Bearer"
    # auth comes before parsing: a broken body still gets 401, not a validation error
    assert httpx.post(daemon.url + "/v1/actions", content=b"{nope").status_code == 401
    assert httpx.get(daemon.url + "/v1/state").status_code == 401
    assert httpx.post(daemon.url + "/v1/control/stop").status_code == 401
    assert daemon.runtime.intervention.state == "agent"
    assert httpx.get(daemon.url + "/healthz").json() == {"ok": True}
    marker(daemon, target, 5, 5)
    assert (100, 100) not in presses(target)
    assert daemon.store.recent_actions(1)[0]["action"] == {
        "action": "click",
        "x": 5,
        "y": 5,
        "button": "left",
        "count": 1,
        "modifiers": [],
        "space": "agent",
        "steps": [],
    }


def test_websocket_with_a_wrong_token_is_closed_4401(daemon: Daemon) -> None:
    for url, headers in ((daemon.ws_url, {}), (daemon.ws_url + "?token=wrong", {}),
                         (daemon.ws_url, {"Authorization": "Bearer wrong"})):  # fmt: skip
        with (
            connect(url, additional_headers=headers, open_timeout=5) as ws,
            pytest.raises(ConnectionClosed) as info,
        ):
            ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == WS_CLOSE_UNAUTHORIZED


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"action": "click", "x": 10, "y": NaN}', "click.y: Input should be a finite number"),
        (b'{"action": "key", "keys": "ctrl+nosuchkey"}', "key.keys: unknown key name 'nosuchkey'"),
        (
            b'{"action": "click", "x": 5000, "y": 10}',
            "point (5000, 10) is off the screen, which is 1920x1080",
        ),
        (
            b'{"action": "fly", "x": 1}',
            "action: unknown action 'fly'; expected one of: click, move",
        ),
        (b'{"action": "type", "text": "x", "speed": 3}', "type.speed: unknown field"),
        (b"{not json", "the request body is not valid JSON"),
        (b"", "the request body is empty"),
    ],
    ids=["nan", "unknown-key", "off-screen", "unknown-action", "extra-field", "bad-json", "empty"],
)
def test_bad_actions_get_422_with_a_readable_message(
    daemon: Daemon, target: Any, body: bytes, message: str
) -> None:
    before = len(daemon.store.recent_actions(1000))
    r = daemon.http.post("/v1/actions", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["error"].startswith(message)
    if b"NaN" in body:
        assert r.json()["details"] == [
            {"loc": "click.y", "msg": "Input should be a finite number", "type": "finite_number"}
        ]
    assert len(daemon.store.recent_actions(1000)) == before  # refused before anything was queued
    marker(daemon, target, 7, 7)
    assert presses(target) == [(7, 7)]
    assert typed(target) == ""


# -- execution -------------------------------------------------------------------------------


def test_type_arrives_exactly(daemon: Daemon, target: Any) -> None:
    text = "Hello, World! 0123 driverseat ~`@#$%^&*()_+-=[]{};':\",./<>?|\\"
    r = daemon.post("/v1/actions", {"action": "type", "text": text})
    out = r.json()
    assert r.status_code == 200 and out["status"] == "executed", out
    assert out["progress"] == {"done": len(text), "total": len(text), "unit": "characters"}
    assert target.wait_for(lambda: len(typed(target)) >= len(text), timeout=10)
    assert typed(target) == text
    stored = daemon.recorded(out["id"])
    assert stored["status"] == "executed" and stored["action"]["text"] == text


def test_anthropic_left_click_lands_there(daemon: Daemon, target: Any) -> None:
    r = daemon.post("/v1/anthropic/computer", {"action": "left_click", "coordinate": [300, 400]})
    body = r.json()
    assert r.status_code == 200 and body["is_error"] is False, body
    assert r.headers["Driverseat-Status"] == "executed"
    assert body["content"][0]["type"] == "text"
    assert target.wait_for(lambda: (300, 400) in presses(target), timeout=5)
    # no coordinate: where the pointer is now
    r = daemon.post("/v1/anthropic/computer", {"action": "double_click"})
    assert r.json()["is_error"] is False
    assert target.wait_for(lambda: presses(target).count((300, 400)) == 3, timeout=5)
    stored = daemon.recorded(r.headers["Driverseat-Action-Ids"])
    assert stored["dialect"] == "anthropic" and stored["kind"] == "click"
    pos = daemon.post("/v1/anthropic/computer", {"action": "cursor_position"}).json()
    assert pos["content"][0]["text"] == "X=300,Y=400"


def test_anthropic_bad_input_is_422_with_a_tool_result(daemon: Daemon, target: Any) -> None:
    r = daemon.post("/v1/anthropic/computer", {"action": "left_click", "coordinate": [3000, 10]})
    assert r.status_code == 422
    body = r.json()
    assert body["is_error"] is True and body["content"][0]["text"].startswith(
        "Error: point (3000, 10)"
    )
    assert "off the screen" in body["content"][0]["text"]
    r = daemon.post("/v1/anthropic/computer", {"action": "scroll", "scroll_direction": "sideways"})
    assert r.status_code == 422 and "scroll_direction" in r.json()["content"][0]["text"]
    marker(daemon, target, 9, 9)
    assert presses(target) == [(9, 9)]


def test_anthropic_screenshot_returns_an_image(daemon: Daemon) -> None:
    r = daemon.post("/v1/anthropic/computer", {"action": "screenshot"})
    body = r.json()
    assert body["is_error"] is False
    image = body["content"][-1]
    assert image["type"] == "image"
    assert image["source"]["media_type"] == "image/png"
    assert png_size(base64.b64decode(image["source"]["data"])) == (1920, 1080)
    stored = daemon.recorded(r.headers["Driverseat-Action-Ids"])
    assert stored["outcome"]["screenshot"]["data_omitted"] is True


def test_a_screenshots_answer_splices_the_grabbers_base64_unchecked(daemon: Daemon, monkeypatch: Any) -> None:
    """The grabber vouches for its base64 (daemon/jsonsplice.py): the answer, canonical or
    a dialect's, is built without looking at the image's characters again, and is the PNG."""
    from daemon import jsonsplice

    seen: list[int] = []
    real = jsonsplice._plain
    monkeypatch.setattr(jsonsplice, "_plain", lambda raw: seen.append(len(raw)) or real(raw))
    canonical = daemon.post("/v1/actions", {"action": "screenshot"}).json()
    anthropic = daemon.post("/v1/anthropic/computer", {"action": "screenshot"}).json()
    for data in (canonical["screenshot"]["data"], anthropic["content"][-1]["source"]["data"]):
        assert png_size(base64.b64decode(data)) == (1920, 1080)
    assert seen == []


def test_screenshot_without_a_grabber_is_a_clear_error(daemon: Daemon) -> None:
    executor = daemon.runtime.executor
    saved, executor.screenshot = executor.screenshot, None
    try:
        body = daemon.post("/v1/anthropic/computer", {"action": "screenshot"}).json()
    finally:
        executor.screenshot = saved
    assert body["is_error"] is True
    assert body["content"] == [{"type": "text", "text": "Error: screenshots are not available"}]


def test_tool_use_block_is_unwrapped(daemon: Daemon) -> None:
    block = {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "computer",
        "input": {"action": "cursor_position"},
    }
    body = daemon.post("/v1/anthropic/computer", block).json()
    assert body["tool_use_id"] == "toolu_1" and body["content"][0]["text"].startswith("X=")
    assert body["type"] == "tool_result"


# -- control ---------------------------------------------------------------------------------


def test_person_takes_over_during_a_long_type(daemon: Daemon, target: Any, human: Any) -> None:
    text = "abcdefghij" * 300
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(
            daemon.post, "/v1/anthropic/computer", {"action": "type", "text": text},
            params={"envelope": 1},
        )
        assert target.wait_for(lambda: len(typed(target)) >= 10, timeout=10)
        human.move(1000, 500)
        human.press(1)  # held: the person keeps control until they let go
        try:
            result = pending.result(timeout=10).json()
            assert result["is_error"] is True
            assert result["driverseat"]["status"] == "interrupted"
            message = result["content"][0]["text"]
            assert message.startswith("Interrupted: a person took control")
            # the screen the person left, as after any action: no turn spent asking for it
            assert [c["type"] for c in result["content"]] == ["text", "image"]
            assert message.endswith("Take a screenshot before continuing.")
            stored = daemon.store.get_action(result["driverseat"]["id"])
            assert stored is not None and stored["status"] == "interrupted"
            done = stored["outcome"]["progress"]["done"]
            assert 10 <= done < len(text)
            assert f"typed {done} of {len(text)} characters" in message
            assert daemon.http.get("/v1/state").json()["control"] == "human"
            # while the person drives, actions return at once, not queued behind them
            late = daemon.post("/v1/actions", {"action": "click", "x": 20, "y": 20}).json()
            assert late["status"] == "interrupted" and late["detail"].startswith("not started")
        finally:
            human.release(1)
    assert poll(lambda: daemon.http.get("/v1/state").json()["control"] == "agent", timeout=5)
    # what reached the window is a prefix of the text, as long as the reported progress
    assert target.wait_for(lambda: len(typed(target)) >= done, timeout=5)
    assert typed(target) == text[:done]
    assert (20, 20) not in presses(target)
    # the first action after the takeover brings a summary and a fresh look at the screen
    after = daemon.post("/v1/actions", {"action": "move", "x": 30, "y": 30}).json()
    assert after["status"] == "executed"
    assert after["human_activity"]["clicks"][0]["x"] == 1000
    assert after["screenshot"]["width"] == 1920


def test_stop_refuses_at_once_and_resume_executes(daemon: Daemon, target: Any) -> None:
    state = daemon.post("/v1/control/stop").json()
    assert state["control"] == "stopped"
    assert daemon.http.get("/v1/state").json()["control"] == "stopped"
    t0 = time.monotonic()
    out = daemon.post("/v1/actions", {"action": "click", "x": 50, "y": 60}).json()
    assert time.monotonic() - t0 < 2.0
    assert (
        out["status"] == "interrupted"
        and "stopped" in out["detail"]
        and out["control"] == "stopped"
    )
    state = daemon.post("/v1/control/resume").json()
    assert state["control"] == "agent"
    marker(daemon, target, 70, 80)
    assert (50, 60) not in presses(target)
    kinds = [
        (e["kind"], e["payload"]["to"], e["payload"]["by"]) for e in daemon.store.recent_events(2)
    ]
    assert kinds == [("control", "agent", "api"), ("control", "stopped", "api")]


def _next(
    ws: ClientConnection, pred: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if pred(msg):
            return msg


def test_event_stream_reports_takeover_and_outcomes(
    daemon: Daemon, target: Any, human: Any
) -> None:
    with connect(daemon.ws_url + f"?token={TOKEN}", open_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=5))  # subscribed once this arrives
        assert (
            hello["type"] == "state"
            and hello["control"] == "agent"
            and hello["screen"] == [1920, 1080]
        )
        human.click(600, 300)
        took = _next(ws, lambda m: m["type"] == "control")
        assert (took["from"], took["to"], took["by"]) == ("agent", "human", "input")
        back = _next(ws, lambda m: m["type"] == "control")
        assert (back["to"], back["by"]) == ("agent", "idle")
        assert back["human_activity"]["clicks"][0]["x"] == 600
        assert took["takeover_id"] == back["takeover_id"]
        ids = {e["id"] for e in daemon.store.recent_events(10)}
        assert {took["event_id"], back["event_id"]} <= ids
        out = daemon.post("/v1/actions", {"action": "click", "x": 11, "y": 12}).json()
        seen = _next(ws, lambda m: m["type"] == "outcome")
        assert (
            seen["id"] == out["id"]
            and seen["status"] == "executed"
            and seen["dialect"] == "canonical"
        )
    with connect(
        daemon.ws_url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, open_timeout=5
    ) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "state"


def test_get_action_by_id(daemon: Daemon) -> None:
    out = daemon.post("/v1/actions", {"action": "move", "x": 40, "y": 41, "reason": "look"}).json()
    got = daemon.http.get(f"/v1/actions/{out['id']}").json()
    assert (
        got["id"] == out["id"] and got["action"]["reason"] == "look" and got["status"] == "executed"
    )
    missing = daemon.http.get("/v1/actions/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]


def test_an_answers_outcome_is_on_record_for_the_very_next_request(daemon: Daemon) -> None:
    # the outcome of an action no person held is written once its answer is out
    # (daemon/recording.py): a GET sent the moment the answer arrives must find it
    for i in range(60):
        body = {"action": "screenshot"} if i % 3 == 0 else {"action": "move", "x": 50 + i, "y": 60}
        answer = daemon.post("/v1/actions", body)
        out = answer.json()
        got = daemon.http.get(f"/v1/actions/{out['id']}").json()
        assert got["status"] == "executed" == out["status"], (i, got)
        assert got["outcome"]["elapsed_ms"] == out["elapsed_ms"] and got["action"]["action"] == body["action"]


def test_a_slow_event_client_is_dropped_not_buffered() -> None:
    from daemon.events import QUEUE_SIZE, EventHub

    async def scenario() -> None:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        slow, fast = hub.subscribe(), hub.subscribe()
        for i in range(QUEUE_SIZE):
            hub.publish({"n": i})
        while not fast.empty():
            fast.get_nowait()  # the fast client keeps up
        hub.publish({"n": "overflow"})
        assert slow not in hub._clients and fast in hub._clients
        assert slow.qsize() == 1 and slow.get_nowait() is None  # its sender closes the socket
        assert fast.get_nowait() == {"n": "overflow", "seq": QUEUE_SIZE + 1}

    asyncio.run(scenario())


def test_screen_grabber_whole_desktop_and_agent_size(xserver: str) -> None:
    grabber = ScreenGrabber(xserver)
    small = ScreenGrabber(xserver, 1, (1366, 768), "agent")
    try:
        image = grabber()
        assert (image.width, image.height, image.space) == (1920, 1080, "screen")
        assert png_size(base64.b64decode(image.data)) == (1920, 1080)
        scaled = small()
        assert (scaled.width, scaled.height, scaled.space) == (1366, 768, "agent")
    finally:
        grabber.close()
        small.close()


def test_an_answered_actions_row_is_found_at_once_through_the_api(daemon: Daemon) -> None:
    """An unheld action's outcome is written just after its answer leaves, before the daemon
    reads another request: a GET for it sent the moment the answer is in, on the same
    connection or on another, finds it done, never missing or still pending."""
    with httpx.Client(base_url=daemon.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as other:
        for i in range(40):
            body = {"action": "screenshot"} if i % 8 == 0 else {"action": "move", "x": 100 + i, "y": 200}
            answer = daemon.post("/v1/actions", body).json()
            for reader in (other, daemon.http):
                r = reader.get(f"/v1/actions/{answer['id']}")
                assert r.status_code == 200, r.text
                assert r.json()["status"] == "executed", r.json()
