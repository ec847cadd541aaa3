"""Candidates in the daemon (docs/candidates.md): the model, the one conversion, the gate's
ruling over all of them, picks and rankings checked and stored as preference pairs.

Real SQLite and a real review queue and gate (tests/daemon/test_gate.py's setup);
the whole loop over HTTP with the overlay is in tests/e2e/test_candidates_x11.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from capture.coords import Rect, Scaling
from daemon.actions import parse_action
from daemon.control.view import AgentView
from daemon.errors import ActionError
from daemon.outcomes import DecisionRequest
from daemon.review.gate import Cleared, Held
from daemon.review.queue import BadDecision, ReviewQueue
from daemon.store import Store
from tests.daemon.test_gate import PNG, Setup, decided_by, proposal, run, s

__all__ = ["s"]  # the fixture of tests/daemon/test_gate.py, used here too

MAIN = {"action": "click", "x": 100, "y": 100, "confidence": 0.3, "reason": "the Send button"}
ALTS = [
    {"action": "click", "x": 400, "y": 100, "confidence": 0.2, "reason": "the other Send"},
    {"action": "type", "text": "hello", "confidence": 0.1},
]


def with_alts(**extra: Any) -> dict[str, Any]:
    return {**MAIN, "alternatives": ALTS, **extra}


def decide(s: Setup, body: dict[str, Any], **req: Any) -> Any:
    request = DecisionRequest.model_validate({"reviewer": "ann", **req})
    return run(decided_by(s, s.gate.admit(proposal(body)), lambda rid: s.queue.decide(rid, request) and None))


# -- the model -------------------------------------------------------------------------------


def test_an_action_carries_up_to_four_alternatives_in_its_own_space() -> None:
    action = parse_action(with_alts())
    assert [a.action for a in action.alternatives] == ["click", "type"]
    assert all(a.space == "agent" for a in action.alternatives)
    assert action.model_dump(mode="json")["alternatives"][0]["reason"] == "the other Send"
    # without alternatives an action dumps exactly as it always did
    assert "alternatives" not in parse_action(MAIN).model_dump(mode="json")


@pytest.mark.parametrize(
    ("alternatives", "says"),
    [
        ([{"action": "click", "x": 1, "y": 1}] * 5, "at most 4"),
        ([{"action": "key", "keys": "ctrl+nosuchkey"}], "nosuchkey"),
        ([{"action": "click", "x": 1, "y": 1, "alternatives": [{"action": "click", "x": 2, "y": 2}]}], "of its own"),
        ([{"action": "click", "x": 1, "y": 1, "space": "screen"}], "give them in one space"),
        ([{"action": "click", "x": 1, "y": 1, "confidence": 2}], "less than or equal to 1"),
    ],
)
def test_bad_alternatives_are_refused(alternatives: list[dict[str, Any]], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        parse_action({**MAIN, "alternatives": alternatives})


def test_alternatives_cross_to_screen_space_at_the_one_boundary() -> None:
    view = AgentView(Scaling(Rect(0, 0, 1920, 1080), 1366, 768))
    screen = view.to_screen(parse_action({**MAIN, "x": 683, "y": 384, "alternatives": [
        {"action": "click", "x": 100, "y": 100}, {"action": "drag", "path": [[0, 0], [683, 384]]}]}))  # fmt: skip
    assert (screen.x, screen.y) == (960, 540)  # type: ignore[union-attr]
    first, drag = screen.alternatives
    assert first.space == drag.space == "screen" and (first.x, first.y) == (141, 141)  # type: ignore[union-attr]
    assert drag.path[-1] == (960, 540)  # type: ignore[union-attr]
    with pytest.raises(ActionError, match=r"alternative 2: point \(2000, 5\) is off the screen"):
        view.to_screen(parse_action({**MAIN, "alternatives": [MAIN, {"action": "click", "x": 2000, "y": 5}]}))


# -- the gate and the queue -----------------------------------------------------------------


def test_a_number_picked_runs_that_candidate_and_prefers_it_over_the_others(s: Setup) -> None:
    answer = decide(s, with_alts(), verdict="approve", candidate=2)
    assert isinstance(answer, Cleared) and answer.candidate == 2
    assert answer.screen == parse_action({**ALTS[0], "space": "screen"})  # what runs
    notes = answer.annotations()
    assert notes["candidate"] == 2 and notes["candidate_action"]["x"] == 400
    [decision] = s.queue.get(answer.review.id).decisions  # type: ignore[union-attr]
    assert decision.candidate == 2 and decision.preferred == ((2, 1), (2, 3))


def test_a_plain_approval_picks_the_proposal(s: Setup) -> None:
    answer = decide(s, with_alts(), verdict="approve")
    assert isinstance(answer, Cleared) and answer.candidate == 1
    assert answer.action == parse_action(MAIN)  # as proposed, without its alternatives
    assert answer.review is not None and answer.review.decisions[-1].preferred == ((1, 2), (1, 3))


def test_an_action_without_alternatives_names_no_candidate(s: Setup) -> None:
    answer = decide(s, MAIN, verdict="approve")
    assert isinstance(answer, Cleared) and answer.candidate is None
    assert "candidate" not in answer.annotations() and answer.review.decisions[-1].preferred == ()  # type: ignore[union-attr]


def test_a_ranking_runs_the_best_and_its_pairs_survive_a_restart(s: Setup) -> None:
    answer = decide(s, with_alts(), ranking=[3, 1, 2])  # no verdict: a ranking approves
    assert isinstance(answer, Cleared) and answer.candidate == 3 and answer.screen.action == "type"
    review_id = answer.review.id  # type: ignore[union-attr]
    again = s.restart()
    try:
        [decision] = again.queue.get(review_id).decisions  # type: ignore[union-attr]
        assert decision.verdict == "approve" and decision.ranking == (3, 1, 2)
        assert decision.preferred == ((3, 1), (3, 2), (1, 2))
    finally:
        again.store.close()


def test_a_rejected_ranking_runs_nothing_but_is_kept(s: Setup) -> None:
    answer = decide(s, with_alts(), verdict="reject", ranking=[2, 3])
    assert isinstance(answer, Held) and answer.status == "rejected" and answer.candidate is None
    decision = answer.review.decisions[-1]  # type: ignore[union-attr]
    assert decision.candidate is None and decision.preferred == ((2, 3),)


@pytest.mark.parametrize(
    ("req", "says"),
    [
        ({"verdict": "approve", "candidate": 4}, "no candidate 4: this action has candidates 1 to 3"),
        ({"ranking": [1, 1]}, r"names candidate\(s\) \[1\] more than once"),
        ({"ranking": [1, 4]}, "no candidate 4"),
        ({"ranking": [0, 1]}, "no candidate 0"),
        ({"ranking": [2]}, "at least two candidates"),
    ],
)
def test_choices_that_do_not_fit_are_refused_and_change_nothing(s: Setup, req: dict[str, Any], says: str) -> None:
    review = s.queue.create("a9", parse_action(with_alts()), parse_action(with_alts(space="screen")), "approve",
                            "careful", PNG, (0, 0, 1920, 1080), (1366, 768))  # fmt: skip
    with pytest.raises(BadDecision, match=says):
        s.queue.decide(review.id, DecisionRequest.model_validate({"reviewer": "ann", **req}))
    after = s.queue.get(review.id)
    assert after is not None and after.status == "pending" and after.decisions == ()


def test_a_candidate_of_an_action_without_alternatives_is_refused(s: Setup) -> None:
    review = s.queue.create("a8", parse_action(MAIN), parse_action({**MAIN, "space": "screen"}), "approve",
                            "careful", PNG, (0, 0, 1920, 1080), (1366, 768))  # fmt: skip
    for req in ({"verdict": "approve", "candidate": 2}, {"ranking": [1, 2]}):
        with pytest.raises(BadDecision, match="carries no alternatives"):
            s.queue.decide(review.id, DecisionRequest.model_validate({"reviewer": "ann", **req}))


@pytest.mark.parametrize(
    ("req", "says"),
    [
        ({"verdict": "approve", "candidate": 2, "ranking": [2, 1]}, "not both"),
        ({"verdict": "reject", "candidate": 2}, "by approving it"),
        ({"verdict": "correct", "ranking": [2, 1]}, "approve or reject"),
        ({"verdict": "approve", "candidate": 6}, "less than or equal to 5"),
        ({"verdict": "approve", "candidate": True}, "expected a number"),
    ],
)
def test_decision_bodies_that_cannot_mean_a_choice(req: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        DecisionRequest.model_validate({"reviewer": "ann", **req})


def test_every_candidate_is_judged_the_strictest_holds(s: Setup) -> None:
    sure = {"action": "click", "x": 5, "y": 5, "confidence": 0.99}  # auto on its own
    shaky = {"action": "click", "x": 9, "y": 9, "confidence": 0.2}
    answer = decide(s, {**sure, "alternatives": [shaky]}, verdict="approve", candidate=2)
    assert isinstance(answer, Cleared) and answer.annotations()["rule"] == "careful"
    assert answer.screen == parse_action({**shaky, "space": "screen"})
    bomb = {"action": "type", "text": ":(){ :|:& };:"}
    denied = run(s.gate.admit(proposal({**sure, "alternatives": [bomb]})))
    assert isinstance(denied, Held) and denied.status == "denied"
    assert "candidate 2" in denied.detail and s.queue.pending() == []


def test_two_approvals_must_choose_the_same_candidate(s: Setup) -> None:
    body = {"action": "type", "text": "TWO", "alternatives": [{"action": "type", "text": "TWO too"}]}
    review = s.queue.create("a7", parse_action(body), parse_action({**body, "space": "screen"}), "approve2",
                            "two", PNG, (0, 0, 1920, 1080), (1366, 768))  # fmt: skip
    s.queue.decide(review.id, DecisionRequest(verdict="approve", reviewer="ann", candidate=2))
    with pytest.raises(BadDecision, match="the first approval chose candidate 2"):
        s.queue.decide(review.id, DecisionRequest(verdict="approve", reviewer="bob"))
    done = s.queue.decide(review.id, DecisionRequest(verdict="approve", reviewer="bob", candidate=2))
    assert done.status == "approved" and [d.candidate for d in done.decisions] == [2, 2]


def test_decisions_are_stored_with_their_pairs(tmp_path: Path) -> None:
    with Store(tmp_path / "d.db") as store:
        q = ReviewQueue(store, tmp_path / "frames")
        r = q.create("a1", parse_action(with_alts()), parse_action(with_alts(space="screen")), "approve",
                     "careful", PNG, (0, 0, 1920, 1080), (1366, 768))  # fmt: skip
        q.decide(r.id, DecisionRequest.model_validate({"reviewer": "ann", "ranking": [2, 1]}))
    with Store(tmp_path / "d.db") as store:
        row = store.get_review(r.id)
        assert row is not None
        [decision] = row["review"]["decisions"]
        assert decision["preferred"] == [[2, 1]] and decision["ranking"] == [2, 1]
        assert decision["candidate"] == 2
