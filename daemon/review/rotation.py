"""Attention and fatigue in the decisions: a second reviewer, another reviewer, a notice.

The queue asks :meth:`Rotation.needs` how many approvals a review needs when someone
approves it (:data:`daemon.review.queue.ApprovalNeeds`):

- the policy's ``attention_threshold``: an ``approve`` review approved by a reviewer whose
  attention score (:mod:`daemon.attention`) is under it needs a second approval, from
  another reviewer, until the score recovers;
- time on duty past ``duty_limit_hours`` (default 4): with ``on_fatigue =
  "second_reviewer"`` that reviewer's approvals need a second one; with
  ``"other_reviewer"`` they are refused (403): another reviewer must approve. With the
  default ``"notice"`` nothing changes but the notice.

After every decision past the limit, ``{"type": "reviewer_fatigue", "reviewer",
"reviewer_id", "on_duty_s", "limit_s"}`` is published; the overlay says so to its person.
The clock is the queue's (``ReviewQueue.clock``): tests give both a fake one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.attention import attention, decided, on_duty
from daemon.outcomes import Review
from daemon.review.checks import RoleRequired
from daemon.reviewers import Identity

if TYPE_CHECKING:
    from daemon.review.gate import Gate

__all__ = ["Rotation"]


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


class Rotation:
    """The gate's answer to the queue's question, and the fatigue notice."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        gate.queue.approval_needs = self.needs
        gate.queue.listeners.append(self._on_review)

    @property
    def limit_s(self) -> float:
        return self.gate.policy.duty_limit_hours * 3600.0

    def needs(self, review: Review, who: Identity, name: str, now: float) -> int:
        policy = self.gate.policy
        store = self.gate.queue.store
        rows = decided(store, who.id, name if who.local else None)
        needed = 1
        duty = on_duty([d.at for d in rows], now)
        if duty >= self.limit_s and policy.on_fatigue != "notice":
            if policy.on_fatigue == "other_reviewer":
                raise RoleRequired(
                    f"{name} has been reviewing for {_hours(duty)} (the limit is "
                    f"{_hours(self.limit_s)}): another reviewer must approve; rejecting still counts",
                    reviewer=name, on_duty_s=round(duty, 1),
                )  # fmt: skip
            needed = 2
        threshold = policy.attention_threshold
        if threshold is not None and review.tier == "approve":
            found = attention(name, rows).score
            if found is not None and found < threshold:
                needed = 2
        return needed

    def _on_review(self, kind: str, review: Review) -> None:
        if kind != "decided" or not review.decisions:
            return
        last = review.decisions[-1]
        if last.reviewer.startswith("driverseat:"):  # the grace window's own decisions
            return
        rows = decided(self.gate.queue.store, last.reviewer_id, last.reviewer if last.reviewer_id == "local" else None)
        duty = on_duty([d.at for d in rows], last.at)
        if duty >= self.limit_s:
            self.gate.publish({
                "type": "reviewer_fatigue", "reviewer": last.reviewer, "reviewer_id": last.reviewer_id,
                "on_duty_s": round(duty, 1), "limit_s": self.limit_s,
            })  # fmt: skip
