"""Candidates in the review: the policy's ruling over all of them, the checks of a pick or
a ranking, and which candidate a decided review runs (docs/candidates.md).

- The policy judges every candidate, not only the one proposed: a person may choose any
  of them, so a proposal is held at its strictest candidate's tier, and a candidate the
  policy denies denies the proposal (nothing runs; the agent may send it again without).
- A pick (``candidate``) or a ranking is checked against the review's own candidates;
  the second approval of an ``approve2`` must choose what the first chose: two people
  approve one action, not each their own.
- Approving a review with candidates without naming one picks candidate 1 (as proposed).
"""

from __future__ import annotations

from collections.abc import Callable

from daemon import candidates as cands
from daemon.actions import Action
from daemon.outcomes import DecisionRequest, Review
from daemon.review.checks import BadDecision
from daemon.review.policy import TIERS, Ruling

__all__ = ["Choice", "check_choice", "chosen", "run_as", "strictest"]

Choice = tuple[int | None, tuple[int, ...], tuple[tuple[int, int], ...]]
"""(candidate approved, ranking, preferred pairs) of one decision."""


def strictest(action: Action, rule: Callable[[Action], Ruling]) -> Ruling:
    """``rule(action)``, or the strictest ruling over all its candidates (TIERS go from the
    most lenient to ``deny``); one from an alternative says which candidate it is."""
    ruling = rule(action)
    for number, alternative in enumerate(action.alternatives, 2):
        other = rule(alternative)
        if TIERS.index(other.tier) > TIERS.index(ruling.tier):
            ruling = Ruling(other.tier, other.rule, f"candidate {number}: {other.why}")
    return ruling


def check_choice(review: Review, req: DecisionRequest) -> Choice:
    """What ``req`` chooses among ``review``'s candidates; BadDecision (422) if it does not fit."""
    n = cands.count(review.screen_action)
    pick, ranking = req.candidate, tuple(req.ranking or ())
    try:
        if ranking:
            cands.check_ranking(ranking, n)
            pick = ranking[0] if req.verdict == "approve" else None
        elif pick is not None:
            cands.candidate(review.screen_action, pick)
        elif req.verdict == "approve" and n > 1:
            pick = 1  # approving as proposed is a pick too
    except ValueError as exc:
        raise BadDecision(str(exc)) from None
    if req.verdict == "approve" and pick is not None:
        earlier = next((d.candidate for d in review.decisions if d.verdict == "approve"), None)
        if earlier is not None and earlier != pick:
            raise BadDecision(
                f"the first approval chose candidate {earlier}; approve that one, or reject"
            )
    # a grace review's approval is its undo window passing: no person preferred anything
    preferred = () if review.tier == "grace" else cands.pairs(n, pick=pick, ranking=ranking)
    return (pick if n > 1 else None), ranking, tuple(preferred)


def chosen(review: Review) -> int | None:
    """The candidate the review's approval chose (None: it carried no alternatives)."""
    return next((d.candidate for d in reversed(review.decisions) if d.candidate is not None), None)


def run_as(action: Action, number: int | None) -> Action:
    """Candidate ``number`` of ``action`` as it runs: without alternatives of its own."""
    if number is None or not action.alternatives:
        return action
    if number == 1:
        return action.model_copy(update={"alternatives": ()})
    return action.alternatives[number - 2]
