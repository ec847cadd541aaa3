"""The gate's logic: every tier, every decision, expiry, adoption after a restart, ``ask``.

Real SQLite and a real review queue; the frame is a small PNG; the policy is parsed
from TOML as a user writes it. No executor here: the gate never runs anything, it only
answers Cleared or Held (tests/daemon/test_service.py runs what it clears).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import pytest

from capture.coords import Rect, Scaling
from daemon.actions import Action, parse_action
from daemon.outcomes import DecisionRequest, Outcome, Review
from daemon.review.gate import GRACE_REVIEWER, Cleared, Gate, Held, OpenGate, Proposal, ReviewsOff
from daemon.review.policy import Policy, Ruling
from daemon.review.policy_file import default_policy, parse_policy
from daemon.review.queue import ReviewQueue
from daemon.store import Store

T = TypeVar("T")
POLICY = """
[defaults]
tier = "auto"
grace_seconds = 0.4
rationale_required = []

[[rule]]
name = "no-fork-bombs"
tier = "deny"
kinds = ["type"]
text = ':\\(\\)'

[[rule]]
name = "tell-me"
tier = "notify"
kinds = ["key"]

[[rule]]
name = "undo"
tier = "grace"
kinds = ["type"]
text = "GRACE"

[[rule]]
name = "two"
tier = "approve2"
kinds = ["type"]
text = "TWO"

[[rule]]
name = "careful"
tier = "approve"
kinds = ["click", "type", "drag"]
confidence_below = 0.85
"""
SCREEN = Scaling(Rect(0, 0, 1920, 1080), 1366, 768)


def _png() -> bytes:
    ok, buf = cv2.imencode(".png", np.full((1080, 1920, 3), 200, np.uint8))
    assert ok
    return buf.tobytes()


PNG = _png()


class Setup:
    def __init__(self, tmp: Path, policy: str = POLICY) -> None:
        self.tmp = tmp
        self.store = Store(tmp / "d.db")
        self.queue = ReviewQueue(self.store, tmp / "frames")
        self.published: list[dict[str, Any]] = []
        self.opened = 0
        self.closed = 0
        self.toasts = 0
        self.gate = Gate(
            parse_policy(policy), self.queue, SCREEN, grab_frame=lambda: PNG,
            publish=self.published.append, attention=self,
        )  # fmt: skip

    def review_opened(self) -> None:
        self.opened += 1

    def review_closed(self) -> None:
        self.closed += 1

    def toast_opened(self) -> None:
        self.toasts += 1

    def toast_closed(self) -> None:
        self.toasts -= 1

    def restart(self) -> Setup:
        """A new daemon on the same database (the old one died with its reviews pending)."""
        self.store.close()
        return Setup(self.tmp)


@pytest.fixture
def s(tmp_path: Path) -> Iterator[Setup]:
    setup = Setup(tmp_path)
    yield setup
    setup.store.close()


def proposal(body: dict[str, Any], pid: str = "a1") -> Proposal:
    action: Action = parse_action(body)
    screen: Action = parse_action({**body, "space": "screen"})  # conversion is not the gate's
    return Proposal(pid, action, screen)


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


async def decided_by(s: Setup, answer: Awaitable[T], decide: Callable[[str], None]) -> T:
    """Start waiting on ``answer``, decide the review once it exists, return the answer."""
    task = asyncio.ensure_future(answer)
    for _ in range(500):
        pending = s.queue.pending()
        if pending:
            break
        await asyncio.sleep(0.01)  # yield to the gate's task (not a wait for time: a poll)
    else:
        raise AssertionError("no review was opened")
    await asyncio.to_thread(decide, pending[0].id)
    return await asyncio.wait_for(task, 10)


async def until_pending(s: Setup, count: int, task: asyncio.Future[Any]) -> None:
    """Poll until ``count`` reviews are pending; fail (not hang) if the gate's task ended
    first, or after 10 s: a broken gate must fail the test, not wait forever."""
    for _ in range(2000):
        if len(s.queue.pending()) >= count:
            return
        if task.done():
            raise AssertionError(f"the gate answered before opening a review: {task.result()!r}")
        await asyncio.sleep(0.005)  # a poll: the gate's task runs meanwhile
    raise AssertionError("no review was opened")


async def answered_without_a_review(s: Setup, answer: Awaitable[Any]) -> Any:
    """The gate's answer, which must come without a review being opened (a denial):
    a review that opens fails the test at once instead of waiting for a person forever."""
    task = asyncio.ensure_future(answer)
    for _ in range(2000):
        if task.done():
            return task.result()
        if s.queue.pending():
            task.cancel()
            raise AssertionError(f"a review was opened: {s.queue.pending()[0].action}")
        await asyncio.sleep(0.005)  # a poll: the gate's task runs meanwhile
    raise AssertionError("no answer")


def test_auto_is_cleared_as_proposed(s: Setup) -> None:
    p = proposal({"action": "click", "x": 5, "y": 6, "confidence": 0.99})
    answer = run(s.gate.admit(p))
    assert isinstance(answer, Cleared) and answer.screen is p.screen and answer.action is p.action
    assert answer.annotations() == {} and s.queue.pending() == [] and s.published == []


def test_notify_is_cleared_and_published(s: Setup) -> None:
    p = proposal({"action": "key", "keys": "ctrl+s"})
    answer = run(s.gate.admit(p))
    assert isinstance(answer, Cleared) and answer.annotations() == {"tier": "notify", "rule": "tell-me"}
    assert [(m["type"], m["action_id"], m["rule"]) for m in s.published] == [("notify", "a1", "tell-me")]


def test_deny_is_held_naming_the_rule_and_opens_no_review(s: Setup) -> None:
    answer = run(s.gate.admit(proposal({"action": "type", "text": ":(){ :|:& };:"})))
    assert isinstance(answer, Held) and answer.status == "denied"
    assert "no-fork-bombs" in answer.detail and answer.annotations()["rule"] == "no-fork-bombs"
    assert s.queue.pending() == [] and s.opened == 0


@pytest.mark.parametrize(
    ("decision", "status"),
    [
        ({"verdict": "approve"}, None),
        ({"verdict": "reject", "rationale": "wrong window"}, "rejected"),
        ({"verdict": "correct", "points": [[1200, 700]]}, "corrected"),
    ],
)
def test_approve_tier_waits_for_the_person(s: Setup, decision: dict[str, Any], status: str | None) -> None:
    p = proposal({"action": "click", "x": 100, "y": 100, "confidence": 0.3, "reason": "menu"})
    req = DecisionRequest.model_validate({"reviewer": "ann", **decision})
    answer = run(decided_by(s, s.gate.admit(p), lambda rid: s.queue.decide(rid, req) and None))
    assert s.opened == 1 and s.closed == 1  # the person's input answered the review meanwhile
    assert answer.review is not None and answer.annotations()["review_id"] == answer.review.id
    if status is None:
        assert isinstance(answer, Cleared) and answer.screen == p.screen
        return
    assert isinstance(answer, Held) and answer.status == status
    if status == "rejected":
        assert "wrong window" in answer.detail and answer.feedback is not None
    else:
        fb = answer.feedback
        assert fb is not None and fb.corrected is not None and fb.space == "agent"
        assert abs(fb.corrected[0] - 853) <= 2 and abs(fb.corrected[1] - 497) <= 2  # 1200, 700 seen at 1366/1920
    types = [m["type"] for m in s.published]
    assert types == ["review", "review_resolved"]


def test_edit_clears_the_edited_action_in_both_spaces(s: Setup) -> None:
    p = proposal({"action": "type", "text": "helo", "confidence": 0.2})
    req = DecisionRequest(verdict="edit", reviewer="ann", edited={"text": "hello"})
    answer = run(decided_by(s, s.gate.admit(p), lambda rid: s.queue.decide(rid, req) and None))
    assert isinstance(answer, Cleared)
    assert answer.action.text == "hello" and answer.screen.text == "hello"
    assert answer.screen.space == "screen" and answer.action.space == "agent"
    assert answer.feedback is not None and answer.feedback.edited == {"text": "hello"}


def test_approve2_needs_two_reviewers(s: Setup) -> None:
    p = proposal({"action": "type", "text": "TWO people"})

    def both(rid: str) -> None:
        first = s.queue.decide(rid, DecisionRequest(verdict="approve", reviewer="ann"))
        assert first.status == "pending"
        s.queue.decide(rid, DecisionRequest(verdict="approve", reviewer="bob"))

    answer = run(decided_by(s, s.gate.admit(p), both))
    assert isinstance(answer, Cleared) and answer.review is not None
    assert [d.reviewer for d in answer.review.decisions] == ["ann", "bob"]


def test_an_expired_review_is_held_as_expired(tmp_path: Path) -> None:
    s = Setup(tmp_path, POLICY.replace("rationale_required = []", "rationale_required = []\nreview_expiry_seconds = 0.2"))
    try:
        answer = run(s.gate.admit(proposal({"action": "click", "x": 1, "y": 1, "confidence": 0.1})))
        assert isinstance(answer, Held) and answer.status == "expired"
        assert "Nobody answered" in answer.detail and answer.review is not None
        assert s.queue.get(answer.review.id).status == "expired"  # type: ignore[union-attr]
        assert s.closed == s.opened == 1
    finally:
        s.store.close()


def test_grace_passes_and_the_record_says_the_window_let_it_run(s: Setup) -> None:
    answer = run(s.gate.admit(proposal({"action": "type", "text": "GRACE"})))
    assert isinstance(answer, Cleared) and answer.review is not None
    assert [d.reviewer for d in answer.review.decisions] == [GRACE_REVIEWER]
    assert s.opened == 0  # an undo window is not a review the person's input answers


def test_grace_cancelled_is_rejected(s: Setup) -> None:
    cancel = DecisionRequest(verdict="cancel", reviewer="ann")
    up: list[int] = []

    def cancelled(rid: str) -> None:
        up.append(s.toasts)  # the toast is up while the person may reach it
        s.queue.decide(rid, cancel)

    answer = run(decided_by(s, s.gate.admit(proposal({"action": "type", "text": "GRACE"})), cancelled))
    assert isinstance(answer, Held) and answer.status == "rejected"
    assert "cancelled" in answer.detail
    assert up == [1] and s.toasts == 0 and s.opened == 0  # and down once it is over


def test_adoption_after_a_restart(s: Setup) -> None:
    async def leave_pending() -> None:
        for i, text in enumerate(("GRACE", "careful")):
            task = asyncio.ensure_future(
                s.gate.admit(proposal({"action": "type", "text": text, "confidence": 0.1}, pid=f"a{i}"))
            )
            await until_pending(s, i + 1, task)
            task.cancel()  # the daemon died while both waited

    s.gate.policy = parse_policy(POLICY.replace("grace_seconds = 0.4", "grace_seconds = 30"))
    run(leave_pending())
    again = s.restart()
    try:
        adopted = again.gate.adopt()
        assert [p.id for p, _ in adopted] == ["a0", "a1"]
        assert again.opened == 1  # the approve review only

        async def answers() -> list[Any]:
            grace = await adopted[0][1]
            rid = again.queue.pending()[0].id
            await asyncio.to_thread(again.queue.decide, rid, DecisionRequest(verdict="approve", reviewer="ann"))
            return [grace, await adopted[1][1]]

        grace, approved = run(answers())
        # the undo window was cut short: not run, and nobody is said to have rejected it
        assert isinstance(grace, Held) and grace.status == "expired"
        assert "restart" in grace.detail and "rejected" not in grace.detail
        assert isinstance(approved, Cleared) and approved.screen.text == "careful"
        assert again.queue.pending() == [] and again.closed == 1
    finally:
        again.store.close()


def test_ask_reviews_what_the_policy_lets_through_but_not_what_it_denies(s: Setup) -> None:
    fine = proposal({"action": "click", "x": 3, "y": 3, "confidence": 1.0})
    approve = DecisionRequest(verdict="approve", reviewer="ann")
    answer = run(decided_by(s, s.gate.ask(fine, "safety", "the model flagged it"),
                            lambda rid: s.queue.decide(rid, approve) and None))  # fmt: skip
    assert isinstance(answer, Cleared) and answer.ruling.tier == "approve" and answer.ruling.rule == "safety"
    denied = run(answered_without_a_review(s, s.gate.ask(proposal({"action": "type", "text": ":(){ :|:& };:"}),
                                                         "safety", "flagged")))  # fmt: skip
    assert isinstance(denied, Held) and denied.status == "denied"


def test_ask_keeps_two_reviewers_when_the_policy_wants_two(s: Setup) -> None:
    async def scenario() -> str:
        task = asyncio.ensure_future(s.gate.ask(proposal({"action": "type", "text": "TWO"}), "safety", "f"))
        await until_pending(s, 1, task)
        tier = s.queue.pending()[0].tier
        task.cancel()
        return tier

    assert run(scenario()) == "approve2"


def test_open_gate_clears_everything_and_never_asks() -> None:
    gate = OpenGate()
    p = proposal({"action": "type", "text": ":(){ :|:& };:"})
    answer = run(gate.admit(p))
    assert isinstance(answer, Cleared) and answer.screen is p.screen
    with pytest.raises(ReviewsOff) as info:
        run(gate.ask(p, "safety", "the model flagged it"))
    assert info.value.status == 403 and gate.adopt() == [] and gate.queue is None


def test_adoption_answers_reviews_decided_before_a_restart_whose_action_never_settled(s: Setup) -> None:
    """A daemon died between a decision and the record of its action: the next one gives
    the decision's answer again (the Daemon then runs a Cleared one only if it never
    started); a grace window that had passed is not run late; settled ones are left alone."""

    def held_then_decided(pid: str, text: str, req: DecisionRequest) -> None:
        s.store.record_action(pid, "canonical", parse_action({"action": "type", "text": text}))
        run(decided_by(s, s.gate.admit(proposal({"action": "type", "text": text, "confidence": 0.1}, pid)),
                       lambda rid: s.queue.decide(rid, req) and None))  # fmt: skip

    ann = "ann"
    held_then_decided("approved", "careful", DecisionRequest(verdict="approve", reviewer=ann))
    held_then_decided("rejected", "careful too", DecisionRequest(verdict="reject", reviewer=ann))
    held_then_decided("grace", "GRACE", DecisionRequest(verdict="approve", reviewer=GRACE_REVIEWER))
    held_then_decided("settled", "careful three", DecisionRequest(verdict="approve", reviewer=ann))
    s.store.record_action("settled", "canonical", parse_action({"action": "type", "text": "careful three"}),
                          Outcome(id="settled", action="type", status="executed"))  # fmt: skip
    s.store.record_action("running", "canonical", parse_action({"action": "type", "text": "x"}))
    again = s.restart()
    try:
        adopted = again.gate.adopt()
        assert [p.id for p, _ in adopted] == ["approved", "rejected", "grace"]

        async def answers() -> list[Any]:
            return [await a for _, a in adopted]

        approved, rejected, grace = run(answers())
        assert isinstance(approved, Cleared) and approved.review is not None
        assert approved.screen.model_dump()["text"] == "careful"
        assert isinstance(rejected, Held) and rejected.status == "rejected"
        assert isinstance(grace, Held) and grace.status == "expired" and "did not run" in grace.detail
        assert again.opened == 0  # nobody is asked again
    finally:
        again.store.close()


def test_an_unanswered_approve_review_is_never_let_through_by_a_window(s: Setup) -> None:
    """Only grace reviews pass by themselves: an approve review outlives the grace window."""

    async def scenario() -> None:
        task = asyncio.ensure_future(s.gate.admit(proposal({"action": "click", "x": 1, "y": 1, "confidence": 0.1})))
        done, _ = await asyncio.wait({task}, timeout=s.gate.policy.grace_seconds * 2.5)
        assert not done, "an approve review ended without a person"
        (review,) = s.queue.pending()
        assert review.tier == "approve" and review.decisions == () and review.expires is None
        task.cancel()

    run(scenario())


def test_reviews_carry_the_policys_expiry_and_rationale_demands(tmp_path: Path) -> None:
    policy = POLICY.replace("rationale_required = []", 'rationale_required = ["approve2"]\nreview_expiry_seconds = 30')
    s = Setup(tmp_path, policy)
    try:
        async def scenario() -> list[Any]:
            tasks = [asyncio.ensure_future(s.gate.admit(proposal({"action": "type", "text": t, "confidence": 0.1}, pid=t)))
                     for t in ("GRACE", "TWO", "careful x")]  # fmt: skip
            for _ in range(1000):
                if len(s.queue.pending()) == 3:
                    break
                await asyncio.sleep(0.01)
            reviews = {r.action_id: r for r in s.queue.pending()}
            for t in tasks:
                t.cancel()
            return [reviews["GRACE"], reviews["TWO"], reviews["careful x"]]

        grace, two, careful = run(scenario())
        assert grace.expires is not None and abs(grace.expires - grace.created - 0.4) < 1e-6
        assert two.expires is not None and abs(two.expires - two.created - 30) < 1e-6
        assert (grace.rationales_required, two.rationales_required, careful.rationales_required) == (False, True, False)
        assert two.needed == 2 and careful.needed == 1
        assert two.rationales == s.gate.policy.rationales and two.screen_rect == (0, 0, 1920, 1080)
        assert two.agent_size == (1366, 768) and two.action["text"] == "TWO"
    finally:
        s.store.close()


def test_window_title_rules_are_judged_through_the_gate(tmp_path: Path) -> None:
    policy = POLICY + '\n[[rule]]\nname = "no-terminals"\ntier = "deny"\nkinds = ["key"]\nwindow = "(?i)xterm"\n'
    policy = policy.replace('[[rule]]\nname = "tell-me"\ntier = "notify"\nkinds = ["key"]\n', "")
    s = Setup(tmp_path, policy)
    try:
        titles = iter(["xterm: ~", "Text Editor"])
        s.gate = Gate(parse_policy(policy), s.queue, SCREEN, grab_frame=lambda: PNG,
                      window_title=lambda: next(titles))  # fmt: skip
        denied = run(s.gate.admit(proposal({"action": "key", "keys": "Return"})))
        assert isinstance(denied, Held) and denied.status == "denied" and denied.ruling.rule == "no-terminals"
        ran = run(s.gate.admit(proposal({"action": "key", "keys": "Return"})))
        assert isinstance(ran, Cleared)
    finally:
        s.store.close()


def test_the_title_is_read_off_the_loop_and_only_when_a_rule_can_look_at_it(tmp_path: Path) -> None:
    # the shipped policy has one window rule (terminal-typing: type, key, hold_key); another,
    # with no kinds, may look at the title of any action that changes something
    policy = default_policy()
    anywhere = parse_policy('[[rule]]\nname = "no-terminals"\ntier = "deny"\nwindow = "(?i)xterm"\n')
    reads: list[tuple[str, bool]] = []  # (whose ruling, on the event loop's thread)

    def judged(p: Policy, body: dict[str, Any]) -> Ruling:
        loop_thread: list[int] = []

        def title() -> str:
            reads.append((body["action"], threading.get_ident() == loop_thread[0]))
            return "xterm: ~"

        store = Store(tmp_path / f"{len(reads)}-{body['action']}.db")
        try:
            gate = Gate(p, ReviewQueue(store, tmp_path / "frames"), SCREEN, grab_frame=lambda: PNG,
                        window_title=title)  # fmt: skip

            async def main() -> Ruling:
                loop_thread.append(threading.get_ident())
                return await gate.ruling(proposal(body).screen)

            return asyncio.run(main())
        finally:
            store.close()

    for body in ({"action": "move", "x": 5, "y": 5}, {"action": "screenshot"}, {"action": "click", "x": 5, "y": 5}):
        assert judged(policy, body).tier == "auto"
    assert reads == []  # not one of them could meet terminal-typing: no title read at all
    assert judged(policy, {"action": "type", "text": "ls"}).rule == "terminal-typing"
    assert reads == [("type", False)]  # read for a type, on a worker thread
    reads.clear()
    assert judged(anywhere, {"action": "click", "x": 5, "y": 5}).tier == "deny"
    assert judged(anywhere, {"action": "screenshot"}).tier == "auto"
    assert reads == [("click", False)]  # a look is no rule's business unless it names it


def test_what_the_gate_publishes_about_a_review(s: Setup) -> None:
    reject = DecisionRequest(verdict="reject", reviewer="ann")
    answer = run(decided_by(s, s.gate.admit(proposal({"action": "click", "x": 9, "y": 9, "confidence": 0.1})),
                            lambda rid: s.queue.decide(rid, reject) and None))  # fmt: skip
    assert answer.review is not None
    shown, resolved = s.published
    assert shown["type"] == "review" and shown["review"]["id"] == answer.review.id
    assert shown["review"]["status"] == "pending" and shown["review"]["action_id"] == "a1"
    assert resolved == {"type": "review_resolved", "id": answer.review.id}
    assert answer.annotations() == {"tier": "approve", "rule": "careful", "review_id": answer.review.id,
                                    "feedback": answer.feedback}  # fmt: skip


def test_each_refusal_says_what_happened(s: Setup) -> None:
    cancel = DecisionRequest(verdict="cancel", reviewer="ann")
    grace = run(decided_by(s, s.gate.admit(proposal({"action": "type", "text": "GRACE"})),
                           lambda rid: s.queue.decide(rid, cancel) and None))  # fmt: skip
    assert isinstance(grace, Held) and grace.review is not None and grace.ruling.tier == "grace"
    assert grace.detail == "The person cancelled this action during its undo window; it did not run."
    assert grace.feedback is not None and grace.feedback.reason == "cancelled during the undo window"
    bare = DecisionRequest(verdict="reject", reviewer="ann")
    rejected = run(decided_by(s, s.gate.admit(proposal({"action": "click", "x": 5, "y": 5, "confidence": 0.1})),
                              lambda rid: s.queue.decide(rid, bare) and None))  # fmt: skip
    assert isinstance(rejected, Held) and rejected.feedback is not None and rejected.feedback.reason is None
    assert rejected.ruling.rule == "careful" and rejected.review is not None
    assert "without giving a reason" in rejected.detail


def test_an_edit_is_cleared_with_its_review(s: Setup) -> None:
    req = DecisionRequest(verdict="edit", reviewer="ann", edited={"text": "fine"})
    answer = run(decided_by(s, s.gate.admit(proposal({"action": "type", "text": "TWO"})),
                            lambda rid: s.queue.decide(rid, req) and None))  # fmt: skip
    assert isinstance(answer, Cleared) and answer.review is not None and answer.review.status == "edited"
    assert answer.ruling.tier == "approve2" and answer.annotations()["review_id"] == answer.review.id


def test_a_correction_whose_frame_is_unreadable_is_still_held(s: Setup) -> None:
    req = DecisionRequest(verdict="correct", reviewer="ann", points=((10, 10),))

    def decide(rid: str) -> None:
        (s.tmp / "frames" / f"{rid}.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
        s.queue.decide(rid, req)

    answer = run(decided_by(s, s.gate.admit(proposal({"action": "click", "x": 5, "y": 5, "confidence": 0.1})), decide))
    assert isinstance(answer, Held) and answer.status == "corrected" and answer.review is not None
    assert answer.detail == "The person corrected the target, but the review's screenshot is unreadable."
    assert answer.ruling.rule == "careful" and answer.feedback is None


def test_a_correction_names_the_elements_the_tree_knows(tmp_path: Path) -> None:
    from capture.a11y import Element
    from capture.a11y._element import Ancestor

    s = Setup(tmp_path)
    try:
        asked: list[tuple[int, int]] = []

        def element_at(x: int, y: int) -> Element | None:
            asked.append((x, y))
            return Element(role="push button", name="Escalate", description="", states=frozenset({"enabled"}),
                           box=Rect(1170, 685, 60, 30), parents=(Ancestor("dialog", "Ticket 4411"),))  # fmt: skip

        s.gate.element_at = element_at
        req = DecisionRequest(verdict="correct", reviewer="ann", points=((1200, 700),))
        answer = run(decided_by(s, s.gate.admit(proposal({"action": "click", "x": 100, "y": 100, "confidence": 0.1})),
                                lambda rid: s.queue.decide(rid, req) and None))  # fmt: skip
        assert (1200, 700) in asked
        assert answer.feedback is not None and "'Escalate'" in answer.feedback.text
    finally:
        s.store.close()


def test_a_waiting_review_is_known_to_the_gate_until_it_is_answered(s: Setup) -> None:
    async def scenario() -> None:
        task = asyncio.ensure_future(s.gate.admit(proposal({"action": "click", "x": 1, "y": 1, "confidence": 0.1})))
        for _ in range(1000):
            if s.gate.waiting:
                break
            await asyncio.sleep(0.005)
        assert s.gate.waiting == {task}  # what shutdown cancels (Daemon.abort_waiting)
        rid = s.queue.pending()[0].id
        await asyncio.to_thread(s.queue.decide, rid, DecisionRequest(verdict="reject", reviewer="a"))
        await task
        assert s.gate.waiting == set()

    run(scenario())


@pytest.mark.parametrize("body", [{"action": "click", "x": 1, "y": 1, "confidence": 0.1},
                                  {"action": "type", "text": "GRACE", "confidence": 0.1}], ids=["approve", "grace"])
def test_a_shutdown_just_after_a_review_is_stored_still_ends_its_wait_at_once(s: Setup, body: dict[str, Any]) -> None:
    """The review is committed on a worker thread: a shutdown may come before the task is
    back on the loop and counted among the waiting. It must not wait for a person then."""
    opened = s.gate._open

    async def scenario() -> bool:
        loop = asyncio.get_running_loop()

        def open_then_shut_down(*args: Any, **kw: Any) -> Review:
            review = opened(*args, **kw)
            loop.call_soon_threadsafe(s.gate.abort_waiting)  # runs before the task resumes
            return review

        s.gate._open = open_then_shut_down  # type: ignore[method-assign]
        task = asyncio.ensure_future(s.gate.admit(proposal(body)))
        await asyncio.wait([task], timeout=5)
        return task.cancelled()  # (asyncio.run would cancel it on the way out)

    assert run(scenario())  # as abort_waiting's cancels: the Daemon answers "shut down"
    assert s.gate.waiting == set()
    # adopted by the next start (a grace window never let it through meanwhile)
    assert [(r.status, r.decisions) for r in s.queue.pending()] == [("pending", ())]


def test_a_shutdown_ends_the_long_polls_of_reviews_now_and_later_ones_at_once(s: Setup) -> None:
    async def scenario() -> list[str]:
        task = asyncio.ensure_future(s.gate.admit(proposal({"action": "click", "x": 1, "y": 1, "confidence": 0.1})))
        await until_pending(s, 1, task)
        rid = s.queue.pending()[0].id
        poll = asyncio.ensure_future(s.queue.wait(rid, 60, long_poll=True))
        await asyncio.sleep(0)  # (it registered as a waiter)
        s.gate.abort_waiting()
        early = await asyncio.wait_for(poll, 5)
        late = await asyncio.wait_for(s.queue.wait(rid, 60, long_poll=True), 0.5)  # at once
        await asyncio.wait([task], timeout=5)
        assert task.cancelled()  # the gate's own wait ended by being cancelled
        return [early.status, late.status]

    assert run(scenario()) == ["pending", "pending"]


def test_a_long_poll_waits_for_the_decision_and_a_shutdown_leaves_the_gates_own_waits_to_cancellation(
    s: Setup,
) -> None:
    async def scenario() -> list[str]:
        task = asyncio.ensure_future(s.gate.admit(proposal({"action": "click", "x": 1, "y": 1, "confidence": 0.1})))
        await until_pending(s, 1, task)
        rid = s.queue.pending()[0].id
        poll = asyncio.ensure_future(s.queue.wait(rid, 60, long_poll=True))
        own = asyncio.ensure_future(s.queue.wait(rid, 60))  # as the gate waits: not a long poll
        await asyncio.sleep(0)
        assert not poll.done() and not own.done()
        s.queue.abort_waiting()  # the queue's part of a shutdown only: the gate's task goes on
        early = await asyncio.wait_for(poll, 5)
        await asyncio.sleep(0)
        assert not own.done()  # ended only by the decision (or by Gate.abort_waiting's cancel)
        await asyncio.to_thread(s.queue.decide, rid, DecisionRequest(verdict="reject", reviewer="a"))
        late = await asyncio.wait_for(own, 5)
        task.cancel()
        return [early.status, late.status]

    assert run(scenario()) == ["pending", "rejected"]


def test_a_long_poll_without_a_shutdown_waits_for_the_decision(s: Setup) -> None:
    async def scenario() -> str:
        task = asyncio.ensure_future(s.gate.admit(proposal({"action": "click", "x": 1, "y": 1, "confidence": 0.1})))
        await until_pending(s, 1, task)
        rid = s.queue.pending()[0].id
        poll = asyncio.ensure_future(s.queue.wait(rid, 60, long_poll=True))
        await asyncio.sleep(0.05)
        assert not poll.done()
        await asyncio.to_thread(s.queue.decide, rid, DecisionRequest(verdict="reject", reviewer="a"))
        done = await asyncio.wait_for(poll, 5)
        assert not s.queue._long_polls  # a long poll that ended is forgotten (no leak)
        await asyncio.wait([task], timeout=5)
        return done.status

    assert run(scenario()) == "rejected"


def test_adopted_reviews_keep_their_rule_and_announce_their_end(s: Setup) -> None:
    async def leave_pending() -> None:
        for i, text in enumerate(("GRACE", "careful")):
            task = asyncio.ensure_future(
                s.gate.admit(proposal({"action": "type", "text": text, "confidence": 0.1}, pid=f"a{i}"))
            )
            await until_pending(s, i + 1, task)
            task.cancel()

    s.gate.policy = parse_policy(POLICY.replace("grace_seconds = 0.4", "grace_seconds = 30"))
    run(leave_pending())
    again = s.restart()
    try:
        adopted = again.gate.adopt()
        assert [p.action.text for p, _ in adopted] == ["GRACE", "careful"]
        # the cut-short grace window is answered at once, not waited for: one review open
        assert again.opened == 1 and [r.action_id for r in again.queue.pending()] == ["a1"]

        async def answers() -> list[Any]:
            grace = await adopted[0][1]
            rid = again.queue.pending()[0].id
            await asyncio.to_thread(again.queue.decide, rid, DecisionRequest(verdict="reject", reviewer="ann"))
            return [grace, await adopted[1][1]]

        grace, rejected = run(answers())
        assert grace.ruling.tier == "grace" and grace.ruling.rule == "undo"
        assert rejected.ruling.tier == "approve" and rejected.ruling.rule == "careful"
        assert "adopted after a restart" in rejected.ruling.why
        resolved = [m for m in again.published if m.get("type") == "review_resolved"]
        assert {m["id"] for m in resolved} == {grace.review.id, rejected.review.id}
    finally:
        again.store.close()


def test_notify_publishes_the_why_and_the_action(s: Setup) -> None:
    run(s.gate.admit(proposal({"action": "key", "keys": "ctrl+s"})))
    (msg,) = s.published
    assert msg["why"].startswith("rule 'tell-me'") and msg["action"]["keys"] == "ctrl+s"
