"""The undo window of a grace-tier review: a countdown model for the toast (no Qt).

The daemon runs a grace-tier action when its window passes unless someone cancels;
this model only tells the toast how long is left and makes the Cancel intent.
"""

from __future__ import annotations

from daemon.outcomes import DecisionRequest, Review
from overlay.shapes import describe

__all__ = ["GraceCountdown"]


class GraceCountdown:
    """The undo window of one grace-tier review: the daemon runs it at ``deadline``."""

    def __init__(
        self, review: Review, reviewer: str, grace_seconds: float, shown_at: float
    ) -> None:
        self.review = review
        self.reviewer = reviewer
        # grace reviews carry no expiry: the daemon waits grace_seconds from creation
        self.deadline = (
            review.expires if review.expires is not None else review.created + grace_seconds
        )
        self.total = max(self.deadline - review.created, 1e-6)
        self.shown_at = shown_at
        self.cancelled = False

    @property
    def summary(self) -> str:
        return describe(self.review.screen_action)

    def seconds_left(self, now: float) -> float:
        """Seconds until the daemon runs the action (0 once the window has passed)."""
        return max(0.0, self.deadline - now)

    def fraction_left(self, now: float) -> float:
        return min(1.0, self.seconds_left(now) / self.total)

    def on_cancel(self) -> DecisionRequest | None:
        """The Cancel intent, once; ``None`` if a cancel was already sent."""
        if self.cancelled:
            return None
        self.cancelled = True
        return DecisionRequest(verdict="cancel", reviewer=self.reviewer, shown_at=self.shown_at)
