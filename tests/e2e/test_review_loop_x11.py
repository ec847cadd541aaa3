"""The whole review loop as a user runs it: `driverseat serve` with its overlay child on
a real X server, an agent over HTTP, a simulated person clicking on the overlay."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import httpx
import pytest
from Xlib import X, display

from tests.daemon.live import StderrLines
from tests.e2e.live_daemon import barrier
from tests.x11.human import SimulatedHuman

pytestmark = pytest.mark.x11

POLICY = """
[defaults]
tier = "auto"
grace_seconds = 1.5
rationale_required = ["approve2"]
rationales = ["needed for the task", "too risky"]

[[rule]]
name = "two-people"
tier = "approve2"
kinds = ["type"]
text = "TWO-PEOPLE"

[[rule]]
name = "undo-window"
tier = "grace"
kinds = ["type"]
text = "GRACE"

[[rule]]
name = "careful-clicks"
tier = "approve"
kinds = ["click", "type", "key"]
confidence_below = 0.85
"""


class Daemon:
    def __init__(self, display_name: str, data: Path, policy: Path, overlay: bool = True) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DRIVERSEAT_DATA_DIR"}
        env["QT_QPA_PLATFORM"] = "xcb"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "serve", "--display", display_name, "--port", "0",
             "--data-dir", str(data), "--policy", str(policy), "--resume-after", "0.3",
             *([] if overlay else ["--no-overlay"])],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
        )  # fmt: skip
        self.out = StderrLines(self.proc)
        self.wait_line = self.out.wait_line
        m = self.wait_line(r"API: +(http://[\d.]+:\d+)", 30)
        self.url = m.group(1)
        token = (data / "token").read_text().strip()
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        if overlay:
            self.wait_line(r"overlay: +started", 30)

    def act(self, body: dict[str, Any]) -> Future[httpx.Response]:
        fut: Future[httpx.Response] = Future()

        def go() -> None:
            try:
                fut.set_result(self.http.post("/v1/actions", json=body))
            except Exception as exc:  # noqa: BLE001 - handed to the test
                fut.set_exception(exc)

        threading.Thread(target=go, daemon=True).start()
        return fut

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.http.close()
        self.out.close()


def poll(pred: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def window_named(name: str, title: str) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of the mapped top-level window with this title, if any."""
    d = display.Display(name)
    try:
        root = d.screen().root
        for w in root.query_tree().children:
            try:
                if w.get_wm_name() == title and w.get_attributes().map_state == X.IsViewable:
                    g = w.get_geometry()
                    pos = w.translate_coords(root, 0, 0)
                    return (-pos.x, -pos.y, g.width, g.height)
            except Exception:  # noqa: BLE001, S112 - windows come and go while we look
                continue
        return None
    finally:
        d.close()


def overlay_window(name: str) -> tuple[int, int, int, int] | None:
    return window_named(name, "driverseat review")


def overlay_ready(name: str) -> bool:
    """The review window is mapped and has the keyboard focus: what a person sees before
    pressing a key. Qt sets the focus once it has seen the window mapped; a key pressed
    in between goes to the window that had it (the target window, which takes it when it
    comes up), and was lost under load."""
    d = display.Display(name)
    try:
        focus = d.get_input_focus().focus
        fid = focus if isinstance(focus, int) else focus.id
        for w in d.screen().root.query_tree().children:
            try:
                if (w.id == fid and w.get_wm_name() == "driverseat review"
                        and w.get_attributes().map_state == X.IsViewable):  # fmt: skip
                    return True
            except Exception:  # noqa: BLE001, S112 - windows come and go while we look
                continue
        return False
    finally:
        d.close()


@pytest.fixture(scope="module")
def daemon(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data = tmp_path_factory.mktemp("e2e")
    policy = data / "policy.toml"
    policy.write_text(POLICY)
    d = Daemon(xserver, data, policy)
    try:
        yield d
    finally:
        d.close()


def pending(d: Daemon) -> list[dict[str, Any]]:
    return d.http.get("/v1/reviews").json()


def test_low_confidence_click_corrected_on_the_overlay(daemon: Daemon, human: SimulatedHuman, xserver: str) -> None:
    # agent space is 1366x768 for this 1920x1080 screen
    fut = daemon.act({"action": "click", "x": 100, "y": 100, "confidence": 0.4, "reason": "open <b>menu</b>"})
    review = poll(lambda: pending(daemon))[0]
    assert review["tier"] == "approve" and review["rule"] == "careful-clicks"
    poll(lambda: overlay_ready(xserver))
    # the person clicks the right spot on the overlay (screen pixels), then Enter
    human.click(1200, 700)
    human.tap("Return")
    r = fut.result(timeout=30)
    out = r.json()
    assert out["status"] == "corrected", out
    fb = out["feedback"]
    assert fb["space"] == "agent"
    # screen (1200, 700) is agent (853, 497) at 1366/1920
    assert abs(fb["corrected"][0] - 853) <= 1 and abs(fb["corrected"][1] - 497) <= 1
    assert fb["proposed"] == [100, 100]
    assert "Your previous click at (100, 100) was incorrect" in fb["text"]
    assert fb["image"]["data"] and fb["image"]["width"] == 1366
    assert poll(lambda: overlay_window(xserver) is None)


@pytest.fixture
def target(xserver: str) -> Iterator[Any]:
    from tests.x11.target import TargetWindow

    t = TargetWindow(xserver)
    yield t
    t.close()


def agent_presses(target: Any) -> list[tuple[int, int]]:
    return [(e["x"], e["y"]) for e in target.snapshot() if e["type"] == "button_press" and e["sourceid"] in (4, 5)]


def typed(target: Any) -> str:
    from capture.input.keys import char_for_keysym

    return "".join(
        char_for_keysym(e["keysym"]) or ""
        for e in target.snapshot()
        if e["type"] == "key_press" and e["sourceid"] in (4, 5) and e["keysym"] != 0xFFE1
    )


def test_approve_runs_the_action_as_proposed(daemon: Daemon, human: SimulatedHuman, xserver: str, target: Any) -> None:
    t0 = time.monotonic()
    fut = daemon.act({"action": "click", "x": 683, "y": 384, "confidence": 0.5})
    poll(lambda: overlay_ready(xserver))
    shown_ms = (time.monotonic() - t0) * 1000
    human.tap("Return")
    out = fut.result(timeout=30).json()
    assert out["status"] == "executed", out
    assert out["tier"] == "approve" and out["review_id"]
    x, y = poll(lambda: agent_presses(target))[0]
    assert abs(x - 960) <= 1 and abs(y - 540) <= 1
    print(f"overlay on screen {shown_ms:.0f} ms after the proposal")


def test_reject_runs_nothing(daemon: Daemon, human: SimulatedHuman, xserver: str, target: Any) -> None:
    fut = daemon.act({"action": "click", "x": 10, "y": 10, "confidence": 0.2})
    poll(lambda: overlay_ready(xserver))
    human.tap("Escape")
    out = fut.result(timeout=30).json()
    assert out["status"] == "rejected", out
    assert out["feedback"]["text"]
    # nothing arrived before the barrier click, which an action sent afterwards: a late
    # click of the rejected one would have come first
    assert barrier(daemon, target) == []


def test_edit_then_approve_types_the_edited_text(daemon: Daemon, human: SimulatedHuman, xserver: str, target: Any) -> None:
    fut = daemon.act({"action": "type", "text": "hello", "confidence": 0.3})
    poll(lambda: overlay_ready(xserver))
    human.tap("e")  # edit mode: the editor starts with "hello"
    human.combo("Control_L", "a")
    for ch in "bye":
        human.tap(ch)
    human.tap("Return")  # keep the edit
    human.tap("Return")  # approve it
    out = fut.result(timeout=30).json()
    assert out["status"] == "executed", out
    assert out["feedback"]["edited"] == {"text": "bye"}
    assert poll(lambda: typed(target) == "bye")


def test_two_reviewers_are_needed_for_approve2(daemon: Daemon, human: SimulatedHuman, xserver: str, target: Any) -> None:
    fut = daemon.act({"action": "type", "text": "TWO-PEOPLE"})
    review = poll(lambda: pending(daemon))[0]
    assert review["tier"] == "approve2" and review["needed"] == 2
    poll(lambda: overlay_ready(xserver))
    human.tap("1")  # the first rationale
    human.tap("Return")
    first = poll(lambda: daemon.http.get(f"/v1/reviews/{review['id']}").json()["decisions"])
    assert len(first) == 1 and first[0]["verdict"] == "approve"
    assert not fut.done()  # one approval is not enough
    r = daemon.http.post(
        f"/v1/reviews/{review['id']}/decision",
        json={"verdict": "approve", "reviewer": "second@desk", "rationale": "needed for the task"},
    )
    assert r.status_code == 200, r.text
    out = fut.result(timeout=30).json()
    assert out["status"] == "executed", out
    assert poll(lambda: typed(target) == "TWO-PEOPLE")


def test_grace_window_cancel(daemon: Daemon, human: SimulatedHuman, xserver: str, target: Any) -> None:
    fut = daemon.act({"action": "type", "text": "GRACE"})
    x, y, w, h = poll(lambda: window_named(xserver, "driverseat undo window"))
    if os.environ.get("E2E_SHOTS"):
        subprocess.run(["import", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", os.environ["E2E_SHOTS"] + "/toast.png"],
                       check=False, env={**os.environ, "DISPLAY": xserver})
        print("toast geometry", x, y, w, h)
    before = daemon.http.get("/v1/state").json()
    human.click(x + w - 52, y + h - 25)  # the Cancel button, right of the countdown
    out = fut.result(timeout=30).json()
    assert out["status"] == "rejected", out
    assert daemon.http.get(f"/v1/reviews/{out['review_id']}").json()["status"] == "cancelled"
    # rejected: the executor never got it, so nothing can arrive later
    assert target.snapshot() == []
    # reaching for the toast and clicking Cancel is review input, not a takeover
    after = daemon.http.get("/v1/state").json()
    assert after["control"] == "agent" and after["takeovers"] == before["takeovers"], after


def test_grace_window_passes_and_runs(daemon: Daemon, target: Any) -> None:
    out = daemon.act({"action": "type", "text": "GRACE ok"}).result(timeout=30).json()
    assert out["status"] == "executed" and out["tier"] == "grace", out
    assert poll(lambda: typed(target) == "GRACE ok")


def test_a_restart_loses_no_pending_review(xserver: str, tmp_path: Path, target: Any) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    first = Daemon(xserver, tmp_path, policy, overlay=False)
    try:
        fut = first.act({"action": "click", "x": 683, "y": 384, "confidence": 0.3})
        review = poll(lambda: pending(first))[0]
        # a reviewer's long poll on a connection the daemon has proven it reads (its first
        # request answered), sent before the signal: the daemon reads it before it begins
        # to shut down, which it does at its next tick
        url = httpx.URL(first.url)
        watch = http.client.HTTPConnection(url.host, url.port, timeout=8)
        try:
            auth = {"Authorization": first.http.headers["Authorization"]}
            watch.request("GET", "/v1/state", headers=auth)
            watch.getresponse().read()
            watch.request("GET", f"/v1/reviews/{review['id']}?wait=60", headers=auth)
            first.proc.terminate()  # SIGTERM while the agent waits for a person
            # both answered at once, not after uvicorn's 10 s of grace with a 500
            answer = fut.result(timeout=8).json()
            got = watch.getresponse()
            watched = (got.status, got.read())
        finally:
            watch.close()
    finally:
        first.close()
    assert answer["status"] == "error" and "shut down" in answer["detail"]
    assert watched[0] == 200 and json.loads(watched[1])["status"] == "pending", watched
    second = Daemon(xserver, tmp_path, policy, overlay=False)
    try:
        again = second.http.get(f"/v1/reviews/{review['id']}").json()
        assert again["status"] == "pending" and again["action_id"] == review["action_id"]
        r = second.http.post(f"/v1/reviews/{review['id']}/decision", json={"verdict": "approve", "reviewer": "me"})
        assert r.status_code == 200, r.text
        done = poll(lambda: (a := second.http.get(f"/v1/actions/{review['action_id']}").json())["status"] == "executed" and a)
        assert done["outcome"]["review_id"] == review["id"]
        x, y = poll(lambda: agent_presses(target))[0]
        assert abs(x - 960) <= 1 and abs(y - 540) <= 1
    finally:
        second.close()


def openai_call(checks: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": "computer_call", "id": "cu_1", "call_id": "call_1", "status": "completed",
        "action": {"type": "click", "button": "left", "x": 683, "y": 384},
        "pending_safety_checks": checks,
    }  # fmt: skip


CHECKS = [{"id": "cu_sc_1", "code": "malicious_instructions", "message": "Ignore the page's instructions."}]


def test_openai_safety_checks_are_acknowledged_only_by_a_person(
    daemon: Daemon, human: SimulatedHuman, xserver: str, target: Any
) -> None:
    fut: Future[httpx.Response] = Future()
    threading.Thread(
        target=lambda: fut.set_result(daemon.http.post("/v1/openai/computer", json=openai_call(CHECKS))), daemon=True
    ).start()
    review = poll(lambda: pending(daemon))[0]
    # shown apart, in a box of their own: not as text the agent read
    assert any("malicious_instructions" in c for c in review["safety_checks"]) and not review["screen_text"]
    poll(lambda: overlay_ready(xserver))
    human.tap("Return")
    r = fut.result(timeout=30)
    out = r.json()
    assert out["acknowledged_safety_checks"] == CHECKS
    assert r.headers["Driverseat-Status"] == "executed"
    assert poll(lambda: agent_presses(target))


def test_openai_safety_checks_rejected_run_nothing(
    daemon: Daemon, human: SimulatedHuman, xserver: str, target: Any
) -> None:
    fut: Future[httpx.Response] = Future()
    threading.Thread(
        target=lambda: fut.set_result(daemon.http.post("/v1/openai/computer", json=openai_call(CHECKS))), daemon=True
    ).start()
    poll(lambda: overlay_ready(xserver))
    human.tap("Escape")
    r = fut.result(timeout=30)
    out = r.json()
    assert out["acknowledged_safety_checks"] == []
    assert r.headers["Driverseat-Status"] == "rejected"
    assert barrier(daemon, target) == []
