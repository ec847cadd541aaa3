"""An approved action runs only once the overlay is off the screen, whoever approved it.

Real parts only: `driverseat serve` with its overlay child on Xvfb (xcb), the target
window of tests/x11/target.py logging every XI2 key and button event with its source
device, the simulated person on their own master device. The agent's input comes from
the core XTEST slaves; the person's from the "human XTEST" slaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from Xlib import XK, display

from tests.e2e.test_review_loop_x11 import (
    POLICY,
    Daemon,
    overlay_ready,
    overlay_window,
    pending,
    poll,
)
from tests.x11.human import SimulatedHuman, device_ids

pytestmark = pytest.mark.x11

CLICK_TRIALS = 25
KEY_TRIALS = 6
HELD_S = 0.3  # how long the person keeps Enter down after the approval is in


@pytest.fixture(scope="module")
def daemon(xserver: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data = tmp_path_factory.mktemp("clearance")
    policy = data / "policy.toml"
    policy.write_text(POLICY)
    d = Daemon(xserver, data, policy)
    try:
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def core_xtest(xserver: str) -> frozenset[int]:
    """The slave devices the daemon injects through: every agent event names one of them."""
    d = display.Display(xserver)
    try:
        ids = device_ids(d)
    finally:
        d.close()
    return frozenset({ids["Virtual core XTEST pointer"], ids["Virtual core XTEST keyboard"]})


def holds(pred: Callable[[], bool], seconds: float) -> bool:
    """Whether ``pred()`` stays true for ``seconds``: the time a wrong change gets to show."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pred():
            return False
        time.sleep(0.01)
    return pred()


def focus_of(xserver: str) -> int:
    d = display.Display(xserver)
    try:
        focus = d.get_input_focus().focus
        return int(focus) if isinstance(focus, int) else int(focus.id)
    finally:
        d.close()


def keycodes(xserver: str, *keysyms: int) -> list[int]:
    d = display.Display(xserver)
    try:
        return [int(d.keysym_to_keycode(k)) for k in keysyms]
    finally:
        d.close()


def agent_events(target: Any, core: frozenset[int]) -> list[tuple[str, int]]:
    return [(e["type"], e["detail"]) for e in target.snapshot() if e["sourceid"] in core]


def approve_over_http(d: Daemon, xserver: str, body: dict[str, Any]) -> dict[str, Any]:
    """Propose ``body``, wait until the overlay shows it, approve it through the API."""
    fut = d.act(body)
    review = poll(lambda: pending(d))[0]
    poll(lambda: overlay_window(xserver))  # the overlay covers the screen now
    r = d.http.post(
        f"/v1/reviews/{review['id']}/decision", json={"verdict": "approve", "reviewer": "api@desk"}
    )
    assert r.status_code == 200, r.text
    decided = time.monotonic()
    out: dict[str, Any] = fut.result(timeout=30).json()
    out["_decided_to_outcome_ms"] = (time.monotonic() - decided) * 1000
    return out


def test_http_approved_clicks_reach_the_window_below(
    daemon: Daemon, xserver: str, target: Any, core_xtest: frozenset[int]
) -> None:
    want = [("button_press", 1), ("button_release", 1)]
    lost, took = [], []
    for trial in range(CLICK_TRIALS):
        target.clear()
        out = approve_over_http(
            daemon, xserver, {"action": "click", "x": 683, "y": 384, "confidence": 0.3}
        )
        assert out["status"] == "executed", out
        took.append(out["_decided_to_outcome_ms"])
        if not target.wait_for(lambda: agent_events(target, core_xtest) == want, timeout=3):
            lost.append((trial, agent_events(target, core_xtest)))
    took.sort()
    print(
        f"decision answered -> outcome: median {took[len(took) // 2]:.0f} ms, max {took[-1]:.0f} ms"
    )
    assert lost == [], (
        f"{len(lost)} of {CLICK_TRIALS} approved clicks did not fully reach the target: {lost}"
    )


def test_http_approved_ctrl_w_reaches_the_window_below(
    daemon: Daemon, xserver: str, target: Any, core_xtest: frozenset[int]
) -> None:
    control, w = keycodes(xserver, XK.XK_Control_L, XK.XK_w)
    want = [("key_press", control), ("key_press", w), ("key_release", w), ("key_release", control)]
    lost = []
    for trial in range(KEY_TRIALS):
        target.clear()
        out = approve_over_http(
            daemon, xserver, {"action": "key", "keys": "ctrl+w", "confidence": 0.3}
        )
        assert out["status"] == "executed", out
        if not target.wait_for(lambda: agent_events(target, core_xtest) == want, timeout=3):
            lost.append((trial, agent_events(target, core_xtest)))
        # the overlay took the keyboard focus from the target: it has it back
        assert focus_of(xserver) == target.info["window"]
    assert lost == [], (
        f"{len(lost)} of {KEY_TRIALS} approved ctrl+w did not fully reach the target: {lost}"
    )


def test_enter_approval_leaks_no_enter_release(
    daemon: Daemon, human: SimulatedHuman, xserver: str, target: Any, core_xtest: frozenset[int]
) -> None:
    enter = human.keycode("Return")
    want = [("button_press", 1), ("button_release", 1)]
    for _ in range(3):
        target.clear()
        fut = daemon.act({"action": "click", "x": 683, "y": 384, "confidence": 0.3})
        review = poll(lambda: pending(daemon))[0]
        poll(lambda: overlay_ready(xserver))
        # a person's Enter lasts a while: let go only once the approval is in
        human.key_down("Return")
        url = f"/v1/reviews/{review['id']}"
        assert poll(lambda: daemon.http.get(url).json()["status"] == "approved")  # noqa: B023
        # while Enter is down the window stays, so that the release comes to it
        assert holds(lambda: overlay_window(xserver) is not None, HELD_S)
        human.key_up("Return")
        out = fut.result(timeout=30).json()
        assert out["status"] == "executed", out
        assert target.wait_for(lambda: agent_events(target, core_xtest) == want, timeout=3)
        # the action ran only after the overlay was gone, and the overlay goes only after
        # the Enter key is let go: a leaked release would be in the log before the click
        person = [
            (e["type"], e["detail"]) for e in target.snapshot() if e["sourceid"] in human.xtest_ids
        ]
        assert ("key_release", enter) not in person, person
        assert poll(lambda: overlay_window(xserver) is None)


def test_http_approval_with_another_review_waiting(
    daemon: Daemon, xserver: str, target: Any, core_xtest: frozenset[int]
) -> None:
    """The overlay would show the next review at once: it waits until the approved action ran."""
    control, w = keycodes(xserver, XK.XK_Control_L, XK.XK_w)
    want = [("key_press", control), ("key_press", w), ("key_release", w), ("key_release", control),
            ("button_press", 1), ("button_release", 1)]  # fmt: skip
    for _ in range(3):
        target.clear()
        key = daemon.act({"action": "key", "keys": "ctrl+w", "confidence": 0.3})
        poll(lambda: len(pending(daemon)) == 1)
        click = daemon.act({"action": "click", "x": 683, "y": 384, "confidence": 0.3})
        reviews = poll(lambda: p if len(p := pending(daemon)) == 2 else None)
        poll(lambda: overlay_ready(xserver))
        # the key first, the click behind it
        for review in sorted(reviews, key=lambda r: r["created"]):
            r = daemon.http.post(
                f"/v1/reviews/{review['id']}/decision",
                json={"verdict": "approve", "reviewer": "api@desk"},
            )
            assert r.status_code == 200, r.text
            ran = f"/v1/actions/{review['action_id']}"
            assert poll(lambda: daemon.http.get(ran).json()["status"] not in (None, "pending"))  # noqa: B023
        outs = [key.result(timeout=30).json(), click.result(timeout=30).json()]
        assert [o["status"] for o in outs] == ["executed", "executed"], outs
        assert target.wait_for(lambda: agent_events(target, core_xtest) == want, timeout=3), (
            agent_events(target, core_xtest)
        )


def test_an_agent_key_never_lands_on_an_open_review(
    daemon: Daemon, xserver: str, target: Any, core_xtest: frozenset[int]
) -> None:
    """While a review is on the screen, another request's Enter must not reach the overlay:
    it would approve the review the agent is waiting on. It does not run at all."""
    target.clear()
    held = daemon.act({"action": "click", "x": 683, "y": 384, "confidence": 0.3})
    review = poll(lambda: pending(daemon))[0]
    poll(lambda: overlay_ready(xserver))
    enter = daemon.act({"action": "key", "keys": "Return", "confidence": 0.99}).result(timeout=30).json()
    assert enter["status"] == "error" and "overlay still covered the screen" in enter["detail"], enter
    assert daemon.http.get(f"/v1/reviews/{review['id']}").json()["status"] == "pending"
    assert agent_events(target, core_xtest) == []
    r = daemon.http.post(f"/v1/reviews/{review['id']}/decision", json={"verdict": "reject", "reviewer": "api@desk"})
    assert r.status_code == 200 and held.result(timeout=30).json()["status"] == "rejected"
    assert poll(lambda: overlay_window(xserver) is None)
