"""Promises of the README that hold today, guarded end to end: a real `driverseat serve`
on Xvfb, an agent and a reviewer over HTTP (and the event WebSocket), a real target
window logging what reached the desktop. Only the HTTP API is used."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.e2e.live_daemon import (
    Daemon,
    agent_events,
    barrier,
    near,
    policy_with,
    screen_xy,
    settled,
    typed,
)
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

# -- 6. deny never reaches the desktop ---------------------------------------------------------


def test_default_policy_denies_a_typed_fork_bomb(served: Daemon, target: TargetWindow) -> None:
    r = served.http.post("/v1/actions", json={"action": "type", "text": ":(){ :|:& };:"})
    out = r.json()
    assert out["status"] == "denied" and out["rule"] == "fork-bomb", out
    assert "fork-bomb" in out["detail"]
    assert barrier(served, target) == []


def _canonical(x: int, y: int) -> tuple[str, dict[str, Any]]:
    return "/v1/actions", {"action": "click", "x": x, "y": y}


def _anthropic(x: int, y: int) -> tuple[str, dict[str, Any]]:
    return "/v1/anthropic/computer", {"action": "left_click", "coordinate": [x, y]}


def _openai(x: int, y: int) -> tuple[str, dict[str, Any]]:
    call = {
        "type": "computer_call",
        "call_id": "c1",
        "action": {"type": "click", "button": "left", "x": x, "y": y},
    }
    return "/v1/openai/computer", call


def _status(body: dict[str, Any]) -> str:
    return str(body["status"] if "status" in body else body["driverseat"]["status"])


@pytest.mark.parametrize(
    "dialect", [_canonical, _anthropic, _openai], ids=["canonical", "anthropic", "openai"]
)
def test_a_denied_click_never_reaches_the_desktop(
    served: Daemon, target: TargetWindow, dialect: Any
) -> None:
    """A click in the test-deny-corner region (agent (50, 50) = screen (70, 70))."""
    path, body = dialect(50, 50)
    r = served.http.post(path, json=body)
    assert r.status_code == 200, r.text
    assert _status(r.json()) == "denied", r.text[:300]
    assert barrier(served, target) == []


# -- 7. an expired review never runs ------------------------------------------------------------

EXPIRY_RULE = """
[[rule]]
name = "test-hold-all-clicks"
tier = "approve"
kinds = ["click"]
region = [0, 0, 1920, 900]
"""


def test_an_expired_review_never_runs(xserver: str, tmp_path: Path, target: TargetWindow) -> None:
    """Nobody decides within ``review_expiry_seconds``: the agent is told the action did
    not run, the review is ``expired``, a late approval is refused (409), nothing ran.
    (The hold rule leaves the barrier's spot, y >= 900 on screen, free.)"""
    policy = tmp_path / "policy.toml"
    policy.write_text(policy_with(EXPIRY_RULE, defaults={"review_expiry_seconds": "1"}))
    d = Daemon(xserver, tmp_path, policy)
    try:
        # answered by the expiry, not by a person (the call waits for it: about 1 s)
        out = d.http.post("/v1/actions", json={"action": "click", "x": 683, "y": 384}).json()
        assert out["status"] != "executed" and out["rule"] == "test-hold-all-clicks", out
        assert "did not run" in out["detail"], out["detail"]
        review = d.http.get(f"/v1/reviews/{out['review_id']}").json()
        assert review["status"] == "expired" and review["decisions"] == [], review
        late = d.decide(review["id"], "approve")
        assert late.status_code == 409, late.text
        assert d.http.get(f"/v1/actions/{review['action_id']}").json()["status"] != "executed"
        assert barrier(d, target) == []
    finally:
        d.close()


# -- 8. notify runs and is published ------------------------------------------------------------


def test_notify_runs_and_is_published_on_the_event_stream(
    served: Daemon, target: TargetWindow
) -> None:
    with connect(served.ws_url, open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "state"
        out = served.http.post("/v1/actions", json={"action": "type", "text": "NOTIFY-ME"}).json()
        assert out["status"] == "executed" and out["tier"] == "notify", out
        deadline = time.monotonic() + 10  # bounded: other messages (outcomes) come too
        notes: list[dict[str, Any]] = []
        while not notes:
            left = deadline - time.monotonic()
            try:
                msg = json.loads(ws.recv(timeout=max(left, 0.0)))
            except TimeoutError:
                raise AssertionError(
                    f"no notify message for {out['id']} on the event stream"
                ) from None
            if msg["type"] == "notify" and msg["action_id"] == out["id"]:
                notes.append(msg)
    assert notes[0]["rule"] == "test-notify"
    assert notes[0]["action"]["text"] == "NOTIFY-ME"
    assert settled(lambda: typed(target) == "NOTIFY-ME")


# -- 9. a drag in agent pixels lands in screen pixels -----------------------------------------


def test_an_agent_space_drag_lands_scaled(served: Daemon, target: TargetWindow) -> None:
    """1366x768 agent space on the 1920x1080 screen: press at the path's start, release
    at its end, scaled by 1920/1366 and 1080/768."""
    path = [[300, 250], [500, 300], [700, 450]]
    out = served.http.post(
        "/v1/actions", json={"action": "drag", "path": path, "duration": 0.1}
    ).json()
    assert out["status"] == "executed", out
    settled(lambda: any(e["type"] == "button_release" for e in agent_events(target)))
    buttons = [e for e in agent_events(target) if e["type"] in ("button_press", "button_release")]
    assert [e["type"] for e in buttons] == ["button_press", "button_release"]
    press, release = buttons
    assert near(press, screen_xy(300, 250)), press
    assert near(release, screen_xy(700, 450)), release
