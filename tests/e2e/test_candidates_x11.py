"""Candidates end to end over HTTP (docs/candidates.md): a real `driverseat serve` on Xvfb,
an agent sending alternatives in each dialect, a reviewer picking or ranking over HTTP,
the target window's XI2 log saying what reached the desktop. Only the HTTP API is used.
The overlay's keys are in tests/e2e/test_candidates_overlay_x11.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.live_daemon import Daemon, barrier, near, screen_xy, settled
from tests.x11.target import TargetWindow

pytestmark = pytest.mark.x11

# agent pixels (1366x768 on the 1920x1080 Xvfb): the main click is in the conftest's
# test-hold-middle region (approve); the alternatives are where no test rule is
MAIN = (683, 384)
SECOND = (400, 300)
THIRD = (900, 600)


def click(at: tuple[int, int], **words: Any) -> dict[str, Any]:
    return {"action": "click", "x": at[0], "y": at[1], **words}


def proposal(**extra: Any) -> dict[str, Any]:
    return {**click(MAIN, confidence=0.6, reason="the Send button"),
            "alternatives": [click(SECOND, confidence=0.3, reason="the other Send"),
                             click(THIRD, confidence=0.2, reason="the footer link")], **extra}  # fmt: skip


def refusal(body: dict[str, Any]) -> str:
    """The sentence of a 422 in any route's form: driverseat's, OpenAI's error object, or
    Anthropic's error tool_result."""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message"))
    if isinstance(error, str):
        return error
    return " ".join(str(c.get("text")) for c in body.get("content") or [])


def presses(events: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(e["x"], e["y"]) for e in events if e["type"] == "button_press"]


def held(d: Daemon, body: dict[str, Any], path: str = "/v1/actions") -> tuple[Any, dict[str, Any]]:
    """Propose ``body`` and wait until its review is pending; (future answer, review)."""
    fut = d.post_later(path, body)
    review = settled(lambda: next(iter(d.pending()), None), 20, "the review")
    return fut, review


def test_alternatives_are_checked_before_anything_runs(served: Daemon, target: TargetWindow) -> None:
    five = {**click(MAIN), "alternatives": [click(SECOND)] * 5}
    bad_key = {**click(MAIN), "alternatives": [{"action": "key", "keys": "ctrl+nosuchkey"}]}
    off = {**click(MAIN), "alternatives": [click(SECOND), click((2000, 10))]}
    anthropic_five = {"action": "left_click", "coordinate": list(MAIN),
                      "driverseat": {"alternatives": [{"action": "left_click", "coordinate": [1, 1]}] * 5}}  # fmt: skip
    openai_bad = {"type": "computer_call", "call_id": "c1", "action": {"type": "click", "x": 1, "y": 1},
                  "driverseat": {"alternatives": [{"type": "teleport", "x": 1, "y": 1}]}}  # fmt: skip
    for path, body, says in [
        ("/v1/actions", five, "at most 4"),
        ("/v1/actions", bad_key, "nosuchkey"),
        ("/v1/actions", off, "alternative 2: point (2000, 10) is off the screen"),
        ("/v1/anthropic/computer", anthropic_five, "at most 4"),
        ("/v1/openai/computer", openai_bad, "driverseat.alternatives[0]"),
    ]:
        r = served.http.post(path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert says in refusal(r.json()), r.json()
    assert served.pending() == []  # nothing was held, nothing stored for a person
    assert barrier(served, target) == []  # and nothing reached the desktop


def test_a_ranking_over_http_runs_the_best_and_only_it(served: Daemon, target: TargetWindow) -> None:
    fut, review = held(served, proposal())
    # the review carries every candidate, in the agent's space and converted to the screen's
    assert [a["x"] for a in review["action"]["alternatives"]] == [SECOND[0], THIRD[0]]
    shown = review["screen_action"]["alternatives"]
    assert all(a["space"] == "screen" for a in shown)
    assert near({"x": shown[1]["x"], "y": shown[1]["y"]}, screen_xy(*THIRD))
    r = served.http.post(f"/v1/reviews/{review['id']}/decision",
                         json={"ranking": [3, 1, 2], "reviewer": "tester@desk"})  # fmt: skip
    assert r.status_code == 200, r.text
    out = fut.result(timeout=30).json()
    assert out["status"] == "executed" and out["candidate"] == 3, out
    assert (out["candidate_action"]["x"], out["candidate_action"]["y"]) == THIRD
    [press] = presses(barrier(served, target))  # one click, at candidate 3, nowhere else
    assert near({"x": press[0], "y": press[1]}, screen_xy(*THIRD)), press
    decision = served.http.get(f"/v1/reviews/{review['id']}").json()["decisions"][-1]
    assert decision["ranking"] == [3, 1, 2] and decision["candidate"] == 3
    assert decision["preferred"] == [[3, 1], [3, 2], [1, 2]]
    # the record of the action says what ran: the candidate, not the proposal
    ran = served.http.get(f"/v1/actions/{out['id']}").json()
    assert (ran["action"]["x"], ran["action"]["y"]) == THIRD and "alternatives" not in ran["action"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"ranking": [1, 1]}, "more than once"),
        ({"ranking": [1, 4]}, "no candidate 4: this action has candidates 1 to 3"),
        ({"ranking": [2]}, "at least two candidates"),
        ({"verdict": "approve", "candidate": 5}, "no candidate 5"),
        ({"verdict": "approve", "candidate": 2, "ranking": [2, 1]}, "not both"),
        ({"verdict": "correct", "ranking": [2, 1], "points": [[10, 10]]}, "approve or reject"),
    ],
)
def test_bad_rankings_are_422_and_the_review_stays_pending(
    served: Daemon, target: TargetWindow, body: dict[str, Any], says: str
) -> None:
    fut, review = held(served, proposal())
    try:
        r = served.http.post(f"/v1/reviews/{review['id']}/decision", json={"reviewer": "tester@desk", **body})
        assert r.status_code == 422, r.text
        assert says in r.json()["error"], r.json()
        again = served.http.get(f"/v1/reviews/{review['id']}").json()
        assert again["status"] == "pending" and again["decisions"] == []
    finally:
        served.reject_all_pending()
    assert fut.result(timeout=30).json()["status"] == "rejected"
    assert barrier(served, target) == []


def test_a_rejected_review_runs_no_candidate(served: Daemon, target: TargetWindow) -> None:
    fut, review = held(served, proposal())
    r = served.decide(review["id"], "reject", ranking=[2, 3], rationale="none of these")
    assert r.status_code == 200, r.text
    out = fut.result(timeout=30).json()
    assert out["status"] == "rejected" and out.get("candidate") is None, out
    assert barrier(served, target) == []  # no candidate ran
    decision = served.http.get(f"/v1/reviews/{review['id']}").json()["decisions"][-1]
    assert decision["preferred"] == [[2, 3]]  # what the person preferred is kept all the same


def test_anthropic_alternatives_in_the_envelope(served: Daemon, target: TargetWindow) -> None:
    body = {"type": "tool_use", "id": "toolu_1", "name": "computer",
            "input": {"action": "left_click", "coordinate": list(MAIN)},
            "driverseat": {"alternatives": [
                {"action": "left_click", "coordinate": list(SECOND), "confidence": 0.3, "reason": "the other Send"},
                {"action": "double_click", "coordinate": list(THIRD)}]}}  # fmt: skip
    fut, review = held(served, body, "/v1/anthropic/computer?envelope=1")
    alts = review["action"]["alternatives"]
    assert [(a["action"], a["x"], a.get("count")) for a in alts] == [("click", 400, 1), ("click", 900, 2)]
    assert alts[0]["reason"] == "the other Send" and alts[0]["confidence"] == 0.3
    assert served.decide(review["id"], "approve", candidate=2).status_code == 200
    out = fut.result(timeout=30).json()
    assert out["tool_use_id"] == "toolu_1" and out["driverseat"]["candidate"] == 2
    assert "The person chose your alternative 1 (candidate 2)" in out["content"][0]["text"]
    [press] = presses(barrier(served, target))
    assert near({"x": press[0], "y": press[1]}, screen_xy(*SECOND)), press


def test_openai_alternatives_in_the_envelope(served: Daemon, target: TargetWindow) -> None:
    call = {"type": "computer_call", "call_id": "call_1",
            "action": {"type": "click", "button": "left", "x": MAIN[0], "y": MAIN[1]},
            "driverseat": {"alternatives": [{"type": "click", "button": "left", "x": THIRD[0], "y": THIRD[1],
                                             "confidence": 0.4, "reason": "further down"}]}}  # fmt: skip
    fut, review = held(served, call, "/v1/openai/computer?envelope=1")
    assert review["action"]["alternatives"][0]["reason"] == "further down"
    assert served.decide(review["id"], "approve", candidate=2).status_code == 200
    out = fut.result(timeout=30).json()
    assert out["driverseat"]["actions"][0]["candidate"] == 2, out["driverseat"]
    assert "candidate 2" in out["driverseat"]["message"]
    [press] = presses(barrier(served, target))
    assert near({"x": press[0], "y": press[1]}, screen_xy(*THIRD)), press
    batch = {**call, "action": None, "actions": [call["action"], {"type": "wait"}]}
    r = served.http.post("/v1/openai/computer", json={k: v for k, v in batch.items() if v is not None})
    assert r.status_code == 422 and "one action" in refusal(r.json()), r.json()


def test_an_action_without_alternatives_is_as_before(served: Daemon, target: TargetWindow) -> None:
    fut, review = held(served, click(MAIN, confidence=0.6))
    assert "alternatives" not in review["action"] and "alternatives" not in review["screen_action"]
    bad = served.decide(review["id"], "approve", candidate=2)
    assert bad.status_code == 422 and "carries no alternatives" in bad.json()["error"]
    assert served.decide(review["id"], "approve").status_code == 200
    out = fut.result(timeout=30).json()
    assert out["status"] == "executed" and out["candidate"] is None, out
    assert len(presses(barrier(served, target))) == 1


def test_the_openapi_document_names_the_fields(served: Daemon) -> None:
    # what any HTTP client generates its types from
    schema = httpx.get(f"{served.url}/openapi.json", headers=served.headers).json()
    click_schema = schema["components"]["schemas"]["Click"]["properties"]
    assert click_schema["alternatives"]["maxItems"] == 4
    decision = schema["components"]["schemas"]["DecisionRequest"]["properties"]
    assert {"candidate", "ranking"} <= decision.keys()
