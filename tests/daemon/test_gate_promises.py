"""Promises of the gate that candidates, drawn boxes, honeypots, urgency and the rules'
demands added (docs/mutation.md: each of these killed a surviving mutant).

Real SQLite, a real queue and gate (tests/daemon/test_gate.py's setup); no HTTP, no X:
these run under ``make mutate``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from capture.a11y import Element
from capture.coords import Rect
from daemon.actions import parse_action
from daemon.honeypot_store import Honeypot, is_honeypot, record_honeypot
from daemon.outcomes import DecisionRequest
from daemon.review import gate as gate_module
from daemon.review.gate import GRACE_REVIEWER, Cleared, Gate, Held, OpenGate, ReviewsOff, Ruling
from daemon.review.policy_file import parse_policy
from daemon.review.queue import BadDecision, UnknownReview
from tests.daemon.live import poll
from tests.daemon.test_gate import (
    PNG,
    POLICY,
    SCREEN,
    Setup,
    answered_without_a_review,
    decided_by,
    proposal,
    run,
    s,
)

__all__ = ["s"]  # the fixture of tests/daemon/test_gate.py, used here too

DEMANDS = POLICY.replace(
    "rationale_required = []", 'rationale_required = ["approve"]\nrationales = ["checked it", "expected"]'
) + """
[[rule]]
name = "leads"
tier = "approve"
kinds = ["type"]
text = "LEAD"
approve_by = ["lead"]
rationale_min_length = 10
urgency = "critical"
"""
SURE = {"action": "type", "confidence": 0.99}  # past "careful": held by the rules below it


def approve(reviewer: str = "ann", **kw: Any) -> DecisionRequest:
    return DecisionRequest(verdict="approve", reviewer=reviewer, **kw)


def deciding(s: Setup, req: DecisionRequest) -> Callable[[str], None]:
    def decide(review_id: str) -> None:
        s.queue.decide(review_id, req)

    return decide


def opened(s: Setup, body: dict[str, Any], *, ask: bool = False) -> Any:
    """The review the gate opens for ``body`` (its wait is cancelled once it exists)."""

    async def scenario() -> Any:
        p = proposal(body, pid=f"p{len(s.queue.pending())}")
        task = asyncio.ensure_future(s.gate.ask(p, "safety", "flagged", ("code: why",)) if ask else s.gate.admit(p))
        for _ in range(1000):
            if any(r.action_id == p.id for r in s.queue.pending()):
                break
            await asyncio.sleep(0.005)  # a poll: yield to the gate's task
        task.cancel()
        return next(r for r in s.queue.pending() if r.action_id == p.id)

    return run(scenario())


# -- what a review carries from the policy ------------------------------------------------------


def test_a_review_carries_its_rules_roles_rationale_and_urgency(tmp_path: Path) -> None:
    s = Setup(tmp_path, DEMANDS)
    try:
        lead = opened(s, {**SURE, "text": "LEAD the way"})
        assert lead.rule == "leads" and lead.roles_required == ("lead",)
        assert lead.rationale_min_length == 10 and lead.urgency == "critical"
        # the rule's own free-text demand replaces the tier's pick from the list
        assert lead.rationales_required is False
        careful = opened(s, {"action": "click", "x": 1, "y": 1, "confidence": 0.1})
        assert careful.rule == "careful" and careful.roles_required == () and careful.rationale_min_length is None
        assert careful.rationales_required is True and careful.rationales == ("checked it", "expected")
        assert careful.urgency == "normal"
        assert opened(s, {"action": "type", "text": "TWO"}).urgency == "critical"  # two people: the loudest
        asked = opened(s, {"action": "click", "x": 2, "y": 2, "confidence": 0.99}, ask=True)
        assert asked.rule == "safety" and asked.rationales_required is True  # an approve review
        assert asked.safety_checks == ("code: why",) and asked.roles_required == ()
    finally:
        s.store.close()


def test_a_rule_that_says_rationale_list_asks_for_one_from_the_list(tmp_path: Path) -> None:
    policy = POLICY.replace("rationale_required = []", 'rationale_required = []\nrationales = ["checked it"]')
    policy += '\n[[rule]]\nname = "listed"\ntier = "approve"\nkinds = ["type"]\ntext = "LIST"\nrationale = "list"\n'
    s = Setup(tmp_path, policy)
    try:
        assert opened(s, {**SURE, "text": "LIST it"}).rationales_required is True
        assert opened(s, {"action": "click", "x": 1, "y": 1, "confidence": 0.1}).rationales_required is False
    finally:
        s.store.close()


def test_ask_puts_the_models_checks_and_words_before_the_person(s: Setup) -> None:
    p = proposal({"action": "click", "x": 3, "y": 3, "confidence": 1.0})
    checks = ("malicious_instructions: the page asks to wire money",)
    answer = run(decided_by(s, s.gate.ask(p, "safety", "the model flagged it", checks),
                            deciding(s, approve())))  # fmt: skip
    assert isinstance(answer, Cleared) and answer.review is not None
    assert answer.review.safety_checks == checks
    assert answer.ruling == Ruling("approve", "safety", "the model flagged it")
    denied = run(answered_without_a_review(s, s.gate.ask(proposal({"action": "type", "text": ":(){ :|:& };:"}),
                                                         "safety", "flagged", checks)))  # fmt: skip
    assert isinstance(denied, Held) and denied.ruling.rule == "no-fork-bombs"
    assert denied.detail.startswith("denied by policy: rule 'no-fork-bombs'")


# -- candidates -----------------------------------------------------------------------------------


def test_an_auto_action_with_alternatives_runs_the_proposal_and_says_so(s: Setup) -> None:
    sure = {"action": "click", "x": 5, "y": 5, "confidence": 0.99}
    p = proposal({**sure, "alternatives": [{**sure, "x": 9}]})
    answer = run(s.gate.admit(p))
    assert isinstance(answer, Cleared) and answer.candidate == 1
    assert answer.action == parse_action(sure) and answer.screen == parse_action({**sure, "space": "screen"})
    notes = answer.annotations()
    assert notes["candidate"] == 1 and notes["candidate_action"] == answer.action.model_dump(mode="json")
    assert "tier" not in notes  # auto says nothing of the gate


# -- a test review (honeypot) ----------------------------------------------------------------------


def test_a_test_review_never_clears_whatever_was_said(s: Setup) -> None:
    """Even if a test review's approval reached the gate's answer, nothing would run."""
    p = proposal({"action": "click", "x": 5, "y": 5, "confidence": 0.1})
    review = s.queue.create(p.id, p.action, p.screen, "approve", "careful", PNG, (0, 0, 1920, 1080), (1366, 768))
    record_honeypot(s.store, Honeypot(review.id, review.created, "displaced", "the wrong button"))
    done = s.queue.decide(review.id, approve())
    ruling = Ruling("approve", "careful", "rule 'careful'")
    answer = s.gate._answer(p, done, ruling)
    assert isinstance(answer, Held) and answer.status == "rejected"
    assert answer.detail == "a test review; nothing runs"
    assert answer.ruling == ruling and answer.review == done


def test_an_armed_test_is_placed_before_the_next_proposal_and_never_runs(tmp_path: Path) -> None:
    s = Setup(tmp_path, POLICY.replace("rationale_required = []", "rationale_required = []\nhoneypot_rate = 1.0"))
    s.gate.honeypots.rng = random.Random(7)
    try:
        reject = DecisionRequest(verdict="reject", reviewer="ann")
        careful = {"action": "click", "x": 100, "y": 100, "confidence": 0.1}
        first = run(decided_by(s, s.gate.admit(proposal(careful, "a1")), deciding(s, reject)))
        assert isinstance(first, Held) and s.gate.honeypots.armed

        def answer_the_test_then_the_real_one(pid: str) -> Callable[[str], None]:
            def answer(rid: str) -> None:
                assert is_honeypot(s.store, rid) and s.queue.get(rid).action_id != pid  # type: ignore[union-attr]
                s.queue.decide(rid, approve())  # approved: a miss, and still nothing runs
                # the agent's own proposal waited behind the test; now its review opens
                assert poll(lambda: any(r.action_id == pid for r in s.queue.pending()), timeout=10)
                (real,) = s.queue.pending()
                s.queue.decide(real.id, approve())

            return answer

        second = run(decided_by(s, s.gate.admit(proposal(careful, "a2")), answer_the_test_then_the_real_one("a2")))
        assert isinstance(second, Cleared) and second.review is not None and second.review.action_id == "a2"
        assert [m["type"] for m in s.published].count("honeypot_missed") == 1
        # that real review armed another: a review asked for by the agent waits behind it too
        assert s.gate.honeypots.armed
        third = run(decided_by(s, s.gate.ask(proposal(careful, "a3"), "safety", "flagged"),
                               answer_the_test_then_the_real_one("a3")))  # fmt: skip
        assert isinstance(third, Cleared) and third.review is not None and third.review.action_id == "a3"
        assert [m["type"] for m in s.published].count("honeypot_missed") == 2
    finally:
        s.store.close()


# -- waiting for the person -------------------------------------------------------------------------


def test_a_review_pending_past_a_long_poll_is_waited_for_again(s: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate_module, "MAX_LONG_POLL", 0.02)
    waits = 0
    real_wait = s.queue.wait

    async def counted(review_id: str, timeout: float) -> Any:
        nonlocal waits
        waits += 1
        return await real_wait(review_id, timeout)

    s.queue.wait = counted  # type: ignore[method-assign]

    async def scenario() -> Any:
        task = asyncio.ensure_future(s.gate.admit(proposal({"action": "click", "x": 1, "y": 1, "confidence": 0.1})))
        for _ in range(2000):
            if waits >= 3:  # three long polls came back with the review still pending
                break
            await asyncio.sleep(0.005)
        assert not task.done(), "a pending review was answered"
        await asyncio.to_thread(s.queue.decide, s.queue.pending()[0].id, approve())
        return await asyncio.wait_for(task, 10)

    answer = run(scenario())
    assert isinstance(answer, Cleared) and answer.review is not None and answer.review.status == "approved"


def test_a_review_already_past_its_expiry_comes_back_expired_and_never_runs(s: Setup) -> None:
    import time

    p = proposal({"action": "click", "x": 5, "y": 5, "confidence": 0.1})
    review = s.queue.create(p.id, p.action, p.screen, "approve", "careful", PNG, (0, 0, 1920, 1080), (1366, 768),
                            expires_in=1.0, now=time.time() - 10)  # fmt: skip
    done = run(s.gate._until_decided(review))
    assert done.status == "expired" and s.queue.get(review.id).status == "expired"  # type: ignore[union-attr]
    answer = s.gate._answer(p, done, Ruling("approve", "careful", "x"))
    assert isinstance(answer, Held) and answer.status == "expired"


# -- what the answers say ----------------------------------------------------------------------------


def test_a_reject_with_empty_words_is_a_reject_without_a_reason(s: Setup) -> None:
    req = DecisionRequest(verdict="reject", reviewer="ann", rationale="")
    answer = run(decided_by(s, s.gate.admit(proposal({"action": "click", "x": 5, "y": 5, "confidence": 0.1})),
                            deciding(s, req)))  # fmt: skip
    assert isinstance(answer, Held) and answer.feedback is not None and answer.feedback.reason is None
    assert "without giving a reason" in answer.detail


def test_a_drawn_box_is_the_element_the_agent_is_told_of(s: Setup) -> None:
    req = DecisionRequest(verdict="correct", reviewer="ann", points=((1200, 700),), box=(1100, 650, 1300, 750))
    answer = run(decided_by(s, s.gate.admit(proposal({"action": "click", "x": 100, "y": 100, "confidence": 0.1})),
                            deciding(s, req)))  # fmt: skip
    assert isinstance(answer, Held) and answer.status == "corrected" and answer.feedback is not None
    element = answer.feedback.element
    assert element is not None and element.source == "person"
    # drawn in screen space, told in the agent's (1366/1920 of it)
    x0, y0, x1, y1 = element.box
    assert abs(x0 - 783) <= 1 and abs(y0 - 462) <= 1 and abs(x1 - 925) <= 1 and abs(y1 - 534) <= 1
    assert answer.detail == answer.feedback.text


# -- after a restart -------------------------------------------------------------------------------


def _decided_then_restarted(s: Setup) -> Setup:
    """Three actions decided (or expired) whose outcome was never recorded, one action with a
    pending review, a pending test review; then the daemon died."""

    def review(pid: str, text: str, tier: str = "approve", **kw: Any) -> str:
        s.store.record_action(pid, "canonical", parse_action({"action": "type", "text": text}))
        p = proposal({"action": "type", "text": text, "confidence": 0.1}, pid)
        return s.queue.create(pid, p.action, p.screen, tier, "careful" if tier == "approve" else "undo", PNG,  # type: ignore[arg-type]
                              (0, 0, 1920, 1080), (1366, 768), **kw).id  # fmt: skip

    s.queue.decide(review("twice", "careful 1"), approve())  # decided, then proposed again (below)
    review("twice", "careful 1 again")
    s.queue.decide(review("approved", "careful 2"), approve())
    s.queue.expire_now(review("expired", "careful 3", expires_in=30))
    s.queue.decide(review("grace", "GRACE", "grace", expires_in=30), approve(GRACE_REVIEWER))
    test = s.queue.create("test", parse_action({"action": "type", "text": "t"}),
                          parse_action({"action": "type", "text": "t", "space": "screen"}), "approve", "careful",
                          PNG, (0, 0, 1920, 1080), (1366, 768))  # fmt: skip
    record_honeypot(s.store, Honeypot(test.id, test.created, "destructive", "it deletes"))
    review("pending", "careful 4")  # a real review after the test one
    return s.restart()


def test_adoption_answers_each_action_once_from_its_decision_keeping_its_ruling(s: Setup) -> None:
    again = _decided_then_restarted(s)
    try:
        adopted = again.gate.adopt()
        # the test review is withdrawn, never adopted; the real one after it is
        assert [p.id for p, _ in adopted] == ["twice", "pending", "approved", "expired", "grace"]
        assert [r.action_id for r in again.queue.pending()] == ["twice", "pending"]

        async def answers() -> list[Any]:
            return [await a for _, a in adopted[2:]]

        approved, expired, grace = run(answers())
        assert isinstance(approved, Cleared) and approved.action == parse_action({"action": "type", "text": "careful 2", "confidence": 0.1})
        assert approved.ruling.tier == "approve" and approved.ruling.rule == "careful"
        assert "decided before a restart" in approved.ruling.why and approved.review is not None
        assert isinstance(expired, Held) and expired.status == "expired" and expired.review is not None
        assert isinstance(grace, Held) and grace.status == "expired" and grace.review is not None
        assert grace.ruling.tier == "grace" and grace.ruling.rule == "undo"
        assert grace.annotations()["review_id"] == grace.review.id
        for _, waiting in adopted[:2]:
            waiting.close()  # type: ignore[attr-defined]
    finally:
        again.store.close()


# -- hovering over a review: what a correction there would name ----------------------------------------


def test_what_a_correction_would_name_comes_from_the_tree_at_that_point(s: Setup) -> None:
    review = opened(s, {"action": "click", "x": 100, "y": 100, "confidence": 0.1})
    asked: list[tuple[int, int]] = []

    def element_at(x: int, y: int) -> Element | None:
        asked.append((x, y))
        return Element(role="push button", name="Send", description="", states=frozenset({"enabled"}),
                       box=Rect(1170, 685, 60, 30), parents=())  # fmt: skip

    s.gate.element_at = element_at
    under = s.gate.element_under(review.id, 1200, 700)
    assert asked == [(1200, 700)]
    assert (under["source"], under["role"], under["name"]) == ("a11y", "push button", "Send")
    assert under["box"] == (1170, 685, 1230, 715) and "'Send'" in under["label"]
    # hovering asks many times: the frame is read once
    (s.tmp / "frames" / f"{review.id}.png").unlink()
    assert s.gate.element_under(review.id, 1201, 700)["name"] == "Send"


def test_hovering_off_the_review_or_over_no_review_is_refused(s: Setup) -> None:
    review = opened(s, {"action": "click", "x": 100, "y": 100, "confidence": 0.1})
    for x, y in ((1920, 5), (-1, 5), (5, 1080), (5, -1)):
        with pytest.raises(BadDecision, match="is off the reviewed screen area"):
            s.gate.element_under(review.id, x, y)
    for x, y in ((0, 0), (1919, 1079)):  # the first and the last pixel are on it
        assert s.gate.element_under(review.id, x, y)["source"] == "vision"
    with pytest.raises(UnknownReview, match="no review with id 'nope'"):
        s.gate.element_under("nope", 5, 5)
    other = opened(s, {"action": "click", "x": 200, "y": 100, "confidence": 0.1})
    (s.tmp / "frames" / f"{other.id}.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(UnknownReview, match="has no readable screenshot"):
        s.gate.element_under(other.id, 5, 5)


# -- the gate's own costs and defaults ----------------------------------------------------------------


def test_the_window_title_is_read_only_when_a_rule_needs_it(s: Setup, tmp_path: Path) -> None:
    reads = 0

    def title() -> str:
        nonlocal reads
        reads += 1
        return "xterm"

    gate = Gate(parse_policy(POLICY), s.queue, SCREEN, grab_frame=lambda: PNG, window_title=title)
    assert isinstance(run(gate.admit(proposal({"action": "key", "keys": "Return"}))), Cleared)
    assert reads == 0  # no rule names a window: no round trip to the X server


def test_a_gate_told_of_no_attention_still_holds_reviews(s: Setup) -> None:
    gate = Gate(parse_policy(POLICY), s.queue, SCREEN, grab_frame=lambda: PNG)
    reject = DecisionRequest(verdict="reject", reviewer="ann")
    s.gate = gate
    answer = run(decided_by(s, gate.admit(proposal({"action": "click", "x": 1, "y": 1, "confidence": 0.1})),
                            deciding(s, reject)))  # fmt: skip
    assert isinstance(answer, Held) and answer.status == "rejected"


def test_the_open_gate_clears_as_proposed_and_its_refusal_names_the_rule() -> None:
    gate = OpenGate()
    assert gate.waiting == set()
    p = proposal({"action": "type", "text": "anything"})
    answer = run(gate.admit(p))
    assert isinstance(answer, Cleared) and answer.action is p.action and answer.annotations() == {}
    with pytest.raises(ReviewsOff) as info:
        run(gate.ask(p, "safety", "the model flagged it"))
    assert str(info.value).startswith("the model flagged it; only a person may acknowledge that")
    assert info.value.details == {"rule": "safety"}


def test_a_review_opened_on_a_frame_of_its_own_shows_that_frame(s: Setup) -> None:
    """A replayed test review is shown on the frame of the review it replays, not the screen now."""
    import cv2
    import numpy as np

    ok, old = cv2.imencode(".png", np.full((1080, 1920, 3), 40, np.uint8))
    assert ok and old.tobytes() != PNG
    p = proposal({"action": "click", "x": 5, "y": 5, "confidence": 0.1})
    review = s.gate._open(p, Ruling("approve", "careful", "rule 'careful'"), frame=old.tobytes())
    assert s.queue.screenshot(review.id) == old.tobytes()
    now = s.gate._open(proposal({"action": "click", "x": 6, "y": 6, "confidence": 0.1}, "a2"),
                       Ruling("approve", "careful", "rule 'careful'"))  # fmt: skip
    assert s.queue.screenshot(now.id) == PNG


def test_an_edited_proposal_with_alternatives_is_what_runs_and_says_so(s: Setup) -> None:
    """The edit applies to the proposal (docs/candidates.md): candidate 1 runs, as edited,
    without its alternatives, and the outcome says which candidate ran."""
    body = {"action": "type", "text": "helo", "confidence": 0.2, "alternatives": [{"action": "type", "text": "hi"}]}
    req = DecisionRequest(verdict="edit", reviewer="ann", edited={"text": "hello"})
    answer = run(decided_by(s, s.gate.admit(proposal(body)), deciding(s, req)))
    assert isinstance(answer, Cleared) and answer.candidate == 1
    assert answer.action == parse_action({"action": "type", "text": "hello", "confidence": 0.2})
    assert answer.screen == parse_action({"action": "type", "text": "hello", "confidence": 0.2, "space": "screen"})
    notes = answer.annotations()
    assert notes["candidate"] == 1 and notes["candidate_action"]["text"] == "hello"
    plain = run(decided_by(s, s.gate.admit(proposal({**body, "alternatives": []}, "a2")), deciding(s, req)))
    assert isinstance(plain, Cleared) and plain.candidate is None and "candidate" not in plain.annotations()
