"""``serve --shadow`` and ``--demonstrations`` end to end: a real daemon over HTTP and its
event WebSocket, the simulated person and the agent on the same Xvfb at the same time."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from daemon.client import Client
from daemon.shadow_store import ShadowStore
from daemon.store import Store
from tests.e2e.live_daemon import AGENT_SOURCES, Daemon, settled
from tests.x11.human import SimulatedHuman
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11
OFF = Path("off")  # --policy off: nothing held for a review


class Events:
    """The daemon's event stream, collected on a thread."""

    def __init__(self, d: Daemon) -> None:
        self.messages: list[dict[str, Any]] = []
        self._cm = connect(d.ws_url, open_timeout=10)
        self._ws = self._cm.__enter__()  # closed by close(): the test's own lifetime
        first = json.loads(self._ws.recv(timeout=10))
        assert first["type"] == "state"
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for raw in self._ws:
                self.messages.append(json.loads(raw))
        except Exception:  # noqa: BLE001 - the daemon went away: the test is over
            return

    def shadow(self, pred: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((m for m in list(self.messages) if m["type"] == "shadow_action" and pred(m)), None)

        msg: dict[str, Any] = settled(found, 15, f"{what} in {[m for m in self.messages if m['type'] != 'outcome']}")
        return msg

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


@pytest.fixture
def shadowing(xserver: str, tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(xserver, tmp_path, OFF, extra=("--shadow", "desk"))
    try:
        d.out.wait_line(r"shadowing: +recording everything", 10)
        yield d
    finally:
        d.close()


def session_actions(data: Path, name: str) -> list[dict[str, Any]]:
    with Store(data / "driverseat.db") as store:
        shadow = ShadowStore(store)
        info = shadow.session(name)
        return [] if info is None else shadow.actions(info.id)


def click_at(x: int, y: int) -> Callable[[dict[str, Any]], bool]:
    def pred(m: dict[str, Any]) -> bool:
        a = m["action"]
        return bool(a["action"] == "click" and abs(a["x"] - x) <= 2 and abs(a["y"] - y) <= 2)

    return pred


def test_commentary_is_stored_scored_and_outlives_a_restart(
    shadowing: Daemon, human: SimulatedHuman, target: TargetWindow, xserver: str, tmp_path: Path
) -> None:
    d = shadowing
    events = Events(d)
    try:
        # the agent acts while the recording runs: none of it is the person's
        for body in ({"action": "click", "x": 300, "y": 200}, {"action": "type", "text": "agent words"}):
            r = d.http.post("/v1/actions", json=body)
            assert r.status_code == 200 and r.json()["status"] == "executed", r.text
        human.click(700, 400)
        click = events.shadow(click_at(700, 400), "the person's click on the event stream")
        human.combo("Control_L", "s")
        combo = events.shadow(lambda m: m["action"].get("keys") == "ctrl+s", "the person's ctrl+s")
    finally:
        events.close()
    assert click["session"] == "desk" and click["screen"] == [1920, 1080]
    frame = d.http.get(click["frame"])
    assert frame.status_code == 200 and frame.content.startswith(b"\x89PNG")
    with d.fresh() as other:
        assert other.get(click["frame"], headers={"Authorization": "Bearer wrong"}).status_code == 401

    near = {"action": "click", "x": 720, "y": 410, "space": "screen"}
    r = d.http.post("/v1/shadow/commentary", json={
        "action_id": click["action_id"], "predicted": near, "words": "I would open it too"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["agrees"] is True and r.json()["score"]["distance"] < 0.14
    # the agent's own space by default: agent (1000, 100) is screen (1406, 141), far away
    far = d.http.post("/v1/shadow/commentary", json={
        "action_id": click["action_id"], "agent": "other", "predicted": {"action": "click", "x": 1000, "y": 100}})  # fmt: skip
    assert far.status_code == 200 and far.json()["agrees"] is False, far.text
    wrong = d.http.post("/v1/shadow/commentary", json={
        "action_id": combo["action_id"], "predicted": {"action": "key", "keys": "ctrl+c"},
        "words": "I would have copied it"})  # fmt: skip
    assert wrong.status_code == 200 and wrong.json()["agrees"] is False
    again = d.http.post("/v1/shadow/commentary", json={"action_id": combo["action_id"], "words": "twice"})
    assert again.status_code == 409
    assert d.http.post("/v1/shadow/commentary", json={"action_id": "nope", "words": ""}).status_code == 404
    off = d.http.post("/v1/shadow/commentary", json={
        "action_id": combo["action_id"], "agent": "x", "predicted": {"action": "click", "x": 5000, "y": 1}})  # fmt: skip
    assert off.status_code == 422
    rate = d.http.get("/v1/shadow/agreement", params={"session": "desk"}).json()
    assert rate == [{"session": "desk", "actions": 2, "commented": 2, "scored": 3, "agreed": 1, "rate": 0.3333}]

    # only the person's two actions were recorded, none of the agent's
    kinds = [a["action"]["action"] for a in session_actions(tmp_path, "desk")]
    assert kinds == ["click", "key"]

    # restart (no recording now): the comments are still there, and new ones join them
    d.close()
    back = Daemon(xserver, tmp_path, OFF)
    try:
        late = back.http.post("/v1/shadow/commentary", json={
            "action_id": combo["action_id"], "agent": "late", "predicted": {"action": "key", "keys": "s+ctrl"}})  # fmt: skip
        assert late.status_code == 200 and late.json()["agrees"] is True, late.text
        rate = back.http.get("/v1/shadow/agreement", params={"session": "desk"}).json()
        assert (rate[0]["scored"], rate[0]["agreed"]) == (4, 2)
        said = back.http.get("/v1/shadow/commentary", params={"session": "desk"}).json()
        assert [c["words"] for c in said if c["words"]] == ["I would open it too", "I would have copied it"]
    finally:
        back.close()


def test_the_client_helper_shadows_the_person(
    shadowing: Daemon, human: SimulatedHuman, target: TargetWindow
) -> None:
    d = shadowing
    seen: list[tuple[dict[str, Any], bytes]] = []

    def predict(msg: dict[str, Any], png: bytes) -> tuple[dict[str, Any], str]:
        seen.append((msg, png))
        a = msg["action"]
        return {"action": "click", "x": a["x"] + 3, "y": a["y"], "count": a["count"]}, "the Save button"

    posted: list[int] = []
    with Client(d.url, d.token) as client:
        t = threading.Thread(target=lambda: posted.append(client.shadow(predict, limit=1, agent="helper")))
        t.start()
        # the helper subscribes on its own thread: click until its comment comes
        settled(lambda: d.http.get("/v1/state").json()["control"] == "agent", 10, "the agent in control")
        assert settled(lambda: _click_and_see(human, d), 20, "a comment from the helper")
        t.join(timeout=20)
    assert posted == [1]
    msg, png = seen[0]
    assert png.startswith(b"\x89PNG") and msg["action"]["action"] == "click"
    said = d.http.get("/v1/shadow/commentary", params={"session": "desk"}).json()
    assert [(c["agent"], c["agrees"], c["words"]) for c in said] == [("helper", True, "the Save button")]


def _click_and_see(human: SimulatedHuman, d: Daemon) -> bool:
    said = d.http.get("/v1/shadow/commentary", params={"session": "desk"}).json()
    if said:
        return True
    human.click(800, 600)
    return False


def test_a_takeover_comes_back_as_a_demonstration_on_the_resumed_outcome(
    xserver: str, tmp_path: Path, human: SimulatedHuman, target: TargetWindow
) -> None:
    d = Daemon(xserver, tmp_path, OFF)  # plain serve: takeovers are demonstrations by default
    try:
        d.out.wait_line(r"shadowing: +recording takeovers only", 10)
        long = d.post_later("/v1/actions", {"action": "type", "text": "the agent types a long line " * 8})
        settled(lambda: sum(e["type"] == "key_press" and e["sourceid"] in AGENT_SOURCES
                            for e in target.snapshot()) >= 10, 10, "the agent typing")  # fmt: skip
        human.click(900, 500)
        human.tap("o")
        human.tap("k")
        first = long.result(timeout=20).json()
        assert first["status"] == "interrupted"
        settled(lambda: d.http.get("/v1/state").json()["control"] == "agent", 10, "the resume")
        r = d.http.post("/v1/actions", json={"action": "key", "keys": "Escape"})
        out = r.json()
        assert out["status"] == "executed", out
        demo = out["demonstration"]
        assert demo is not None and demo["interrupted"] == first["id"] and demo["session"] == "takeovers"
        actions = [a["action"] for a in demo["actions"]]
        # screen (900, 500) in the agent's 1366x768 view
        assert actions == [
            {"action": "click", "x": 640, "y": 355, "button": "left", "count": 1, "modifiers": [], "space": "agent"},
            {"action": "type", "text": "ok", "space": "agent"},
        ], actions
        assert d.http.get(demo["actions"][0]["frame"]).content.startswith(b"\x89PNG")
        # stored with the action: GET /v1/actions/{id} has it too
        stored = d.http.get(f"/v1/actions/{out['id']}").json()
        assert stored["outcome"]["demonstration"]["takeover_id"] == demo["takeover_id"]
    finally:
        d.close()
    # the recording holds the takeover's actions only: neither the agent's typing nor the
    # click made before the takeover
    kinds = [a["action"]["action"] for a in session_actions(tmp_path, "takeovers")]
    assert kinds == ["click", "type"]


def test_input_given_to_an_open_review_is_not_recorded(
    xserver: str, tmp_path: Path, human: SimulatedHuman, target: TargetWindow
) -> None:
    from tests.e2e.conftest import TEST_RULES
    from tests.e2e.live_daemon import policy_with

    policy = tmp_path / "policy.toml"
    policy.write_text(policy_with(TEST_RULES))
    d = Daemon(xserver, tmp_path, policy, extra=("--shadow", "reviewed"))
    try:
        d.out.wait_line(r"shadowing: +recording", 10)
        events = Events(d)
        held = d.post_later("/v1/actions", {"action": "click", "x": 683, "y": 384})  # test-hold-middle
        # on the stream once the review is on the person's screen (GET /v1/reviews may
        # answer a moment before: it is on disk first)
        review = settled(lambda: next((m["review"] for m in list(events.messages) if m["type"] == "review"), None),
                         10, "the review")  # fmt: skip
        events.close()
        # the person answers the review on its screen: clicks and keys that are review input
        human.click(960, 540)
        human.tap("Return")
        assert d.decide(review["id"], "reject", rationale="not now").status_code == 200
        assert held.result(timeout=20).json()["status"] == "rejected"
        settled(lambda: d.http.get("/v1/state").json()["control"] == "agent", 10, "the agent in control")
        human.click(300, 700)  # and now a takeover: the person's own action
        settled(lambda: len(session_actions(tmp_path, "reviewed")) >= 1, 15, "the person's click recorded")
    finally:
        d.close()
    acts = [a["action"] for a in session_actions(tmp_path, "reviewed")]
    assert [(a["action"], a.get("x"), a.get("y")) for a in acts] == [("click", 300, 700)], acts


def test_a_password_typed_during_a_takeover_is_masked_everywhere(
    xserver: str, tmp_path: Path, human: SimulatedHuman, a11y_bus: Any
) -> None:
    from daemon.commentary import MASK
    from tests.x11.a11y import Zenity

    z = Zenity(a11y_bus, "--password", "--title", "Unlock")
    try:
        with a11y_bus.lookup() as a11y:
            z.wait_for(a11y, lambda lookup: lookup.focused())  # up, with the keyboard focus
        d = Daemon(xserver, tmp_path, OFF, extra=("--demonstrations",))
        try:
            d.out.wait_line(r"shadowing: +recording takeovers only", 10)
            for ch in "hunter":  # the person takes over by typing into the password field
                human.tap(ch)
            settled(lambda: d.http.get("/v1/state").json()["control"] == "agent", 10, "the resume")
            out = d.http.post("/v1/actions", json={"action": "key", "keys": "shift"}).json()
            assert out["status"] == "executed", out
            assert [a["action"] for a in out["demonstration"]["actions"]] == [
                {"action": "type", "text": MASK, "space": "agent"}]  # fmt: skip
            assert out["human_activity"]["text"] == MASK and "hunter" not in out["detail"], out
        finally:
            d.close()
    finally:
        z.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("driverseat.db*"))
    assert b"hunter" not in stored
