"""Promises of the review queue that candidates, drawn boxes, reviewer identities and the
overlay's timings added (docs/mutation.md: each of these killed a surviving mutant).

Real SQLite and a real queue (tests/daemon/test_reviews.py's fixtures); no HTTP, no X:
these run under ``make mutate``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from daemon.actions import Click, Drag
from daemon.outcomes import Review
from daemon.review.queue import BadDecision, ReviewQueue, RoleRequired, UnknownReview
from daemon.reviewers import LOCAL, Identity
from daemon.store import Store
from tests.daemon.test_reviews import AGENT, PNG, RECT, T0, _create, _req, queue, store

__all__ = ["queue", "store"]  # the fixtures of tests/daemon/test_reviews.py, used here too

BOX = (480, 380, 560, 420)  # screen space, holding the corrected point below
POINT = (500, 400)


# -- a drawn box --------------------------------------------------------------------------


def test_a_drawn_box_is_kept_with_its_correction_and_survives_a_restart(queue: ReviewQueue, tmp_path: Path) -> None:
    r = _create(queue, now=T0)
    done = queue.decide(r.id, _req("correct", points=(POINT,), box=BOX), now=T0 + 1)
    assert done.status == "corrected"
    assert done.decisions[-1].box == BOX and done.decisions[-1].points == (POINT,)
    again = ReviewQueue(queue.store, tmp_path / "frames")
    stored = again.get(r.id)
    assert stored is not None and stored.decisions[-1].box == BOX


@pytest.mark.parametrize(
    ("body", "says"),
    [
        # a box belongs to a correction of one point: not to a reject, an approve, a drag
        ({"verdict": "reject", "points": (POINT,), "box": BOX}, "a drawn box goes with a correction"),
        ({"verdict": "approve", "box": BOX}, "a drawn box goes with a correction"),
        ({"verdict": "correct", "points": ((10, 10), (20, 20)), "box": BOX}, "not a drag"),
        # and it must hold the corrected point, on the reviewed area, with an area
        ({"verdict": "correct", "points": ((10, 10),), "box": BOX}, "does not hold the corrected point"),
        ({"verdict": "correct", "points": (POINT,), "box": (480, 380, 2000, 420)}, "reaches off"),
        ({"verdict": "correct", "points": (POINT,), "box": (500, 400, 501, 420)}, "is not a rectangle"),
    ],
)
def test_a_box_that_does_not_fit_its_correction_is_refused_and_changes_nothing(
    queue: ReviewQueue, body: dict[str, Any], says: str
) -> None:
    action = Drag(path=((1, 1), (30, 30))) if len(body.get("points", ())) == 2 else None
    r = _create(queue, action)
    with pytest.raises(BadDecision, match=says):
        queue.decide(r.id, _req(**body))
    after = queue.get(r.id)
    assert after is not None and after.status == "pending" and after.decisions == ()


# -- who decides -----------------------------------------------------------------------------


def test_a_tokens_reviewer_is_who_the_token_says_not_who_the_body_claims(queue: ReviewQueue) -> None:
    r = _create(queue)
    rita = Identity("r-1", "rita", ("lead",))
    done = queue.decide(r.id, _req(reviewer="mallory"), by=rita)
    [d] = done.decisions
    assert (d.reviewer, d.reviewer_id, d.roles) == ("rita", "r-1", ("lead",))
    local = queue.decide(_create(queue).id, _req(reviewer="ann"))
    [d] = local.decisions
    assert (d.reviewer, d.reviewer_id, d.roles) == ("ann", LOCAL, ())


def test_a_rules_roles_are_needed_to_let_an_action_run_not_to_stop_it(queue: ReviewQueue) -> None:
    r = _create(queue, roles_required=("lead",))
    assert r.roles_required == ("lead",)
    with pytest.raises(RoleRequired, match="needs an approver with the role lead") as info:
        queue.decide(r.id, _req(reviewer="ann"))  # the overlay's reviewer holds no role
    assert info.value.details["reviewer"] == "ann"
    with pytest.raises(RoleRequired):
        queue.decide(r.id, _req(reviewer="bob"), by=Identity("r-2", "bob", ("intern",)))
    assert queue.get(r.id).status == "pending"  # type: ignore[union-attr]
    assert queue.decide(r.id, _req(), by=Identity("r-1", "rita", ("lead",))).status == "approved"
    anyone = _create(queue, roles_required=("lead",))
    assert queue.decide(anyone.id, _req("reject", reviewer="ann")).status == "rejected"


def test_the_approvals_a_review_needs_are_asked_when_someone_approves(queue: ReviewQueue) -> None:
    asked: list[tuple[str, str, str, float]] = []

    def needs(review: Review, who: Identity, name: str, now: float) -> int:
        asked.append((review.id, who.id, name, now))
        return 2  # e.g. this reviewer's attention is low: a second one must approve

    queue.approval_needs = needs
    r = _create(queue)
    first = queue.decide(r.id, _req(reviewer="ann"), now=T0 + 5)
    assert first.status == "pending" and first.needed == 2
    assert asked == [(r.id, LOCAL, "ann", T0 + 5)]
    assert queue.decide(r.id, _req(reviewer="bob"), now=T0 + 6).status == "approved"
    # an undo window's own approval is nobody's attention: never asked, never doubled
    grace = _create(queue, tier="grace", expires_in=30)
    asked.clear()
    assert queue.decide(grace.id, _req(reviewer="driverseat:grace-window")).status == "approved"
    assert asked == []


# -- what a review carries --------------------------------------------------------------------


def test_a_review_keeps_the_policys_demands_and_the_models_checks_across_a_restart(
    queue: ReviewQueue, tmp_path: Path
) -> None:
    r = _create(queue, roles_required=("lead", "ops"), rationale_min_length=12,
                safety_checks=("malicious_instructions: the page asks for a transfer",),
                urgency="critical")  # fmt: skip
    again = ReviewQueue(queue.store, tmp_path / "frames").get(r.id)
    for review in (r, again):
        assert review is not None
        assert review.roles_required == ("lead", "ops") and review.rationale_min_length == 12
        assert review.safety_checks == ("malicious_instructions: the page asks for a transfer",)
        assert review.urgency == "critical"


def test_answered_is_when_the_decision_resolved_the_review(queue: ReviewQueue) -> None:
    r = _create(queue, tier="approve2", now=T0)
    first = queue.decide(r.id, _req(reviewer="ann"), now=T0 + 3)
    assert first.status == "pending" and first.timing.answered is None  # one yes of two
    done = queue.decide(r.id, _req(reviewer="bob"), now=T0 + 7)
    assert done.timing.answered == T0 + 7
    assert queue.get(r.id).timing.answered == T0 + 7  # type: ignore[union-attr]


# -- seen: the overlay showed it, the person looked at it ------------------------------------


def test_the_first_shown_and_looked_count_and_later_ones_do_not_move_them(queue: ReviewQueue) -> None:
    r = _create(queue, now=T0)
    shown = queue.seen(r.id, "shown", now=T0 + 1)
    assert (shown.timing.shown, shown.timing.looked) == (T0 + 1, None)
    again = queue.seen(r.id, "shown", now=T0 + 9)  # an overlay that reconnected
    assert again.timing.shown == T0 + 1
    looked = queue.seen(r.id, "looked", now=T0 + 2)
    assert (looked.timing.shown, looked.timing.looked) == (T0 + 1, T0 + 2)
    current = queue.get(r.id)
    assert current is not None and current.timing == looked.timing  # the pending review knows
    assert current.status == "pending"


def test_seen_after_the_decision_still_counts_and_an_unknown_review_is_a_404(queue: ReviewQueue) -> None:
    r = _create(queue, now=T0)
    queue.decide(r.id, _req(), now=T0 + 4)
    late = queue.seen(r.id, "looked", now=T0 + 5)  # the report came just after the answer
    assert late.status == "approved" and late.timing.looked == T0 + 5 and late.timing.shown == T0 + 5
    assert late.timing.answered == T0 + 4
    with pytest.raises(UnknownReview, match="no review with id 'nope'"):
        queue.seen("nope", "shown", now=T0)


def test_seen_of_a_review_with_no_moment_reported_before_a_restart(store: Store, tmp_path: Path) -> None:
    q = ReviewQueue(store, tmp_path / "frames")
    r = q.create("a1", Click(x=1, y=1), Click(x=1, y=1, space="screen"), "approve", "r", PNG, RECT, AGENT, now=T0)
    again = ReviewQueue(store, tmp_path / "frames")
    assert again.seen(r.id, "shown", now=T0 + 2).timing.shown == T0 + 2
    assert again.get(r.id).timing.shown == T0 + 2  # type: ignore[union-attr]


def test_the_moments_are_kept_as_a_reviews_for_the_readiness_report(queue: ReviewQueue, store: Store) -> None:
    """The report (daemon/report/figures.py) reads the timings rows of kind 'review'."""
    import time

    shown_first = _create(queue)
    before = time.time()
    queue.seen(shown_first.id, "shown")  # no ``now``: the moment is the clock's
    after = time.time()
    answered_first = _create(queue)
    queue.decide(answered_first.id, _req())
    with store.locked() as db:
        rows = dict(db.execute("SELECT id, kind FROM timings").fetchall())
        shown = db.execute("SELECT shown FROM timings WHERE id = ?", (shown_first.id,)).fetchone()[0]
    assert rows == {shown_first.id: "review", answered_first.id: "review"}
    assert before <= shown <= after
