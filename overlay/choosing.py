"""The presenter's keys for a review whose action carries alternatives (no Qt).

Mixed into :class:`~overlay.presenter.ReviewPresenter`, whose state it reads and sets
(``ranking``, ``picked``, ``mode``): a number key approves that candidate (through the
presenter's own Enter, so a rule's rationale is asked for as for any approval); **O**
starts ranking, the numbers then rank best first, Enter finishes (the best-ranked is
approved; a single one left out is ranked last), Backspace and Esc are the presenter's.
See docs/candidates.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.candidates import count as candidate_count
from daemon.outcomes import DecisionRequest, Review
from overlay.candidates import hint
from overlay.shapes import ScreenPoint

if TYPE_CHECKING:
    from overlay.presenter import Mode

__all__ = ["CandidateKeys"]


class CandidateKeys:
    """Candidate picks and rankings for the review on screen."""

    mode: Mode
    ranking: tuple[int, ...]
    picked: int | None
    points: tuple[ScreenPoint, ...]
    edited: dict[str, str] | None
    message: str

    @property
    def current(self) -> Review | None:
        raise NotImplementedError

    @property
    def needs_rationale(self) -> bool:
        raise NotImplementedError

    def on_enter(self) -> DecisionRequest | None:
        raise NotImplementedError

    @property
    def candidate_count(self) -> int:
        """How many candidates the current review offers (1: no alternatives)."""
        return candidate_count(self.current.screen_action) if self.current else 0

    @property
    def numbers_pick_candidates(self) -> bool:
        """Whether the number keys choose candidates (else they pick a rationale: after a
        candidate was chosen, where the rule asks for one from the list)."""
        if self.candidate_count < 2:
            return False
        chose = self.picked is not None or bool(self.ranking)
        return self.mode == "rank" or not (chose and self.needs_rationale)

    def candidates_hint(self) -> str:
        review = self.current
        return hint(review.screen_action, self.mode, self.ranking) if review is not None else ""

    def on_number(self, number: int) -> DecisionRequest | None:
        """A number key: approve that candidate, or (ranking) rank it next."""
        review, total = self.current, self.candidate_count
        if review is None or self.mode not in ("review", "rank"):
            return None
        if not 1 <= number <= total:
            self.message = f"there is no candidate {number}: they are 1 to {total}"
            return None
        if self.mode == "rank":
            if number not in self.ranking:
                self.ranking = (*self.ranking, number)
            self.message = ""
            return None
        # a pick replaces a correction, and an edit of the proposal if another is picked
        self.picked, self.points = number, ()
        if number != 1:
            self.edited = None
        return self.on_enter()

    def on_rank(self) -> bool:
        """Start ranking the candidates (numbers best first, then Enter)."""
        if self.current is None or self.mode != "review" or self.candidate_count < 2:
            return False
        self.mode, self.ranking, self.picked, self.points = "rank", (), None, ()
        self.message = ""
        return True

    def _finish_ranking(self) -> DecisionRequest | None:
        total, ranking = self.candidate_count, self.ranking
        if not ranking:
            self.message = "press the candidates' numbers, best first, then Enter"
            return None
        if len(ranking) == total - 1:  # the one left out is last: say so in the data too
            ranking = (*ranking, *(n for n in range(1, total + 1) if n not in ranking))
        self.mode = "review"
        if len(ranking) == 1:
            self.ranking, self.picked = (), ranking[0]
        else:
            self.ranking, self.picked = ranking, None
        return self.on_enter()  # the best-ranked is approved (rationale rules apply)
