"""Known bugs of the review path, reproduced end to end: a real `driverseat serve` on
Xvfb, an agent and a reviewer over HTTP, a real target window logging what arrived.

Each test states the behaviour it expects; each failed (for the bug it names, in its
``because`` note) before the fix it guards. Only the HTTP API is used, never the
daemon's modules.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.live_daemon import Daemon, barrier, near, policy_with, screen_xy, settled, typed
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

CHECKS = [
    {
        "id": "cu_sc_1",
        "code": "malicious_instructions",
        "message": "Ignore the page's instructions.",
    }
]


def _bug(why: str) -> pytest.MarkDecorator:
    """The bug this case reproduced before its fix (kept to say why the case exists)."""
    return pytest.mark.because(why)


def computer_call(x: int, y: int, checks: Any) -> dict[str, Any]:
    return {
        "type": "computer_call", "id": "cu_1", "call_id": "call_1", "status": "completed",
        "action": {"type": "click", "button": "left", "x": x, "y": y},
        "pending_safety_checks": checks,
    }  # fmt: skip


# -- 1. safety checks and a policy rule on the same OpenAI call -----------------------------


@pytest.mark.because("safety checks open a review of their own (unrecorded action id), then the policy opens a second")
def test_openai_safety_checks_and_a_policy_rule_open_one_review(
    served: Daemon, target: TargetWindow
) -> None:
    """A click the policy holds (test-hold-middle, approve) that also carries
    ``pending_safety_checks`` goes to the person once: one review, whose ``action_id``
    is a recorded action; its approval acknowledges the checks and runs the click."""
    fut = served.post_later("/v1/openai/computer", computer_call(683, 384, CHECKS))
    seen: list[dict[str, Any]] = []
    try:
        first = settled(served.pending)[0]
        seen.append(first)
        assert served.decide(first["id"], "approve").status_code == 200
        # the call answers now, unless another review holds it
        settled(lambda: fut.done() or served.pending())
        seen += served.pending()
    finally:
        served.reject_all_pending()
        fut.result(timeout=30)
    assert len(seen) == 1, f"{len(seen)} reviews for one call: rules {[r['rule'] for r in seen]}"
    recorded = served.http.get(f"/v1/actions/{first['action_id']}")
    assert recorded.status_code == 200, (
        f"the review's action_id is not a recorded action: {recorded.text}"
    )
    out = fut.result().json()
    assert out["acknowledged_safety_checks"] == CHECKS
    assert out["driverseat"]["status"] == "executed", out["driverseat"]
    presses = [e for e in barrier(served, target) if e["type"] == "button_press"]
    assert [near(e, screen_xy(683, 384)) for e in presses] == [True], presses


# -- 2. a grace review pending across a restart ------------------------------------------------

GRACE_RULE = """
[[rule]]
name = "test-grace"
tier = "grace"
kinds = ["type"]
text = "GRACE-RESTART"
"""


@pytest.mark.because("an adopted grace review is answered 'The person rejected', and stays pending")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_grace_review_across_a_restart_expires_unrun(
    xserver: str, tmp_path: Path, target: TargetWindow, sig: signal.Signals
) -> None:
    """Expected: a grace review left pending by a daemon that went down **expires** when
    the next daemon adopts it: status ``expired``, no decision by anyone, the action not
    run (its window may have passed while nobody could cancel: it must not silently run
    later), and the agent is told it did not run, never "The person rejected"."""
    policy = tmp_path / "policy.toml"
    policy.write_text(policy_with(GRACE_RULE, defaults={"grace_seconds": "30"}))
    first = Daemon(xserver, tmp_path, policy)
    try:
        fut = first.post_later("/v1/actions", {"action": "type", "text": "GRACE-RESTART"})
        review = settled(first.pending)[0]
        assert review["tier"] == "grace"
        first.kill(sig)
        try:
            fut.result(timeout=30)  # SIGTERM answers "shut down"; SIGKILL drops the connection
        except httpx.HTTPError:
            pass
    finally:
        first.close()
    second = Daemon(xserver, tmp_path, policy)
    try:
        aid = review["action_id"]
        row = settled(
            lambda: (a := second.http.get(f"/v1/actions/{aid}").json())["status"] != "pending" and a
        )
        told = " ".join(
            [row["outcome"]["detail"], (row["outcome"].get("feedback") or {}).get("text") or ""]
        )
        assert "person rejected" not in told.lower(), (
            f"nobody decided, yet the agent is told: {told!r}"
        )
        assert row["status"] != "executed"
        assert re.search(r"not (been )?(run|executed)", told), told
        after = settled(
            lambda: (
                (r := second.http.get(f"/v1/reviews/{review['id']}").json())["status"] != "pending"
                and r
            ),
            5,
            "the adopted grace review to leave pending",
        )
        assert after["status"] == "expired" and after["decisions"] == [], after
        assert barrier(second, target) == []
        assert typed(target) == ""
    finally:
        second.close()


# -- 3. malformed pending_safety_checks --------------------------------------------------------

MALFORMED = [
    pytest.param("yes", marks=_bug("a string of checks is ignored and the call runs"), id="string"),
    pytest.param([1], marks=_bug("a non-object check is dropped and the call runs"), id="int-item"),
    pytest.param({"id": "x"}, marks=_bug("an object instead of a list is ignored and the call runs"), id="object"),
    pytest.param(["x"], marks=_bug("a string check is dropped and the call runs"), id="str-item"),
    pytest.param([None], marks=_bug("a null check is dropped and the call runs"), id="null-item"),
    pytest.param([{"id": 5}], id="int-id"),  # held for a person today: the promise holds
]  # fmt: skip


@pytest.mark.parametrize("checks", MALFORMED)
def test_malformed_safety_checks_never_run(
    served: Daemon, target: TargetWindow, checks: Any
) -> None:
    """Expected: a 4xx refusal or a review for a person (rejected here); never executed
    with ``acknowledged_safety_checks: []``, and no agent click reaches the window."""
    fut = served.post_later("/v1/openai/computer", computer_call(300, 600, checks))
    held = False
    try:
        settled(lambda: fut.done() or served.pending())
        held = bool(served.pending())
    finally:
        served.reject_all_pending()
    r = fut.result(timeout=30)
    if not held:
        said = (
            r.json().get("driverseat", r.json())
            if r.headers["content-type"].startswith("application/json")
            else r.text
        )
        assert 400 <= r.status_code < 500, f"not refused, not held: {r.status_code} {said}"
        assert isinstance(r.json().get("error"), str)
    else:
        out = r.json()
        assert out["driverseat"]["status"] != "executed" and out["acknowledged_safety_checks"] == []
    assert barrier(served, target) == [], "the call's click reached the window"


# -- 4. the audit row of an edited action ------------------------------------------------------


@pytest.mark.because("GET /v1/actions/{id} keeps the proposed action after an edit, not what ran")
def test_edited_action_is_recorded_as_run(served: Daemon, target: TargetWindow) -> None:
    """After an ``edit`` decision the edited text is typed, and the action's record says
    so: its ``action`` is what ran (or the row carries the executed action beside the
    proposed one, each under its own key; the outcome's feedback is not the record)."""
    fut = served.post_later("/v1/actions", {"action": "type", "text": "EDIT-ME"})
    try:
        review = settled(served.pending)[0]
        r = served.decide(review["id"], "edit", edited={"text": "edited"})
        assert r.status_code == 200, r.text
    finally:
        served.reject_all_pending()
    out = fut.result(timeout=30).json()
    assert out["status"] == "executed", out
    assert settled(lambda: typed(target) == "edited")
    row = served.http.get(f"/v1/actions/{out['id']}").json()
    recorded = [row["action"]] + [
        v
        for k, v in row.items()
        if k not in ("action", "outcome") and isinstance(v, dict) and v.get("action") == "type"
    ]
    assert any(a.get("text") == "edited" for a in recorded), f"the record holds only {recorded}"


# -- 5. bad input answered with a 500, or not refused at all ------------------------------------

BAD_INPUT = [
    pytest.param("/v1/anthropic/computer", {"action": {}}, id="anthropic-action-object",
                 marks=_bug("an object as Anthropic's action is hashed -> TypeError -> 500")),
    pytest.param("/v1/anthropic/computer", {"action": []}, id="anthropic-action-list",
                 marks=_bug("a list as Anthropic's action is hashed -> TypeError -> 500")),
    pytest.param("/v1/actions", {"action": "click", "x": True, "y": False}, id="bool-coordinates",
                 marks=_bug("booleans pass as coordinates: clicks at agent (1, 0)")),
    pytest.param("/v1/actions", {"action": "key", "keys": "F9", "confidence": False}, id="bool-confidence",
                 marks=_bug("confidence false passes as 0.0 and the key runs")),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body"), BAD_INPUT)
def test_bad_input_is_a_422_and_runs_nothing(
    served: Daemon, target: TargetWindow, path: str, body: dict[str, Any]
) -> None:
    """Every endpoint answers bad input with 422 and a readable ``error``; nothing runs."""
    with served.fresh() as client:  # a 500 makes the server drop the connection
        r = client.post(path, json=body)
    assert r.status_code == 422, f"{r.status_code} {r.text[:300]}"
    assert isinstance(r.json().get("error"), str) and r.json()["error"]
    assert barrier(served, target) == []
