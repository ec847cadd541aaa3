"""The state and logic of the review overlay, in plain Python (no Qt: tested without a screen).

A :class:`ReviewPresenter` holds the queue of pending reviews and the state of the one
being shown (its correction points, an edit, a reject reason, a rationale), turns the
review's ``screen_action`` into plain :data:`Shape` values in SCREEN space for the canvas
to paint, and maps the reviewer's keys to intents: a :class:`~daemon.outcomes.DecisionRequest`
to post, or ``None`` when the key only changed local state. Grace-tier reviews are not
queued for a full-screen review; each gets a :class:`GraceCountdown` for the undo toast.

Nothing here decides on its own: no timer approves, rejects or cancels anything. A
review leaves the screen when its decision is sent (:meth:`ReviewPresenter.on_enter`)
and comes back if sending fails (:meth:`ReviewPresenter.send_failed`).
"""

from __future__ import annotations

import getpass
import math
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from daemon.actions import parse_action
from daemon.outcomes import DecisionRequest, Review, rationale_refusal
from overlay.candidates import candidate_shapes
from overlay.choosing import CandidateKeys
from overlay.grace import GraceCountdown
from overlay.pointing import Pointing
from overlay.shapes import (
    Outline,
    ScreenPoint,
    Shape,
    action_shapes,
    anchor_of,
    correction_shapes,
    describe,
    points_needed,
)

__all__ = [
    "DEFAULT_RATIONALES",
    "EDITABLE_FIELDS",
    "SAFETY_RULE",
    "GraceCountdown",
    "Mode",
    "ReviewPresenter",
    "default_reviewer",
    "rule_text",
]

Mode = Literal["review", "edit", "reason", "justify", "rank"]
"""``reason``: typing why to reject; ``justify``: typing why to approve, where the rule
asks for a rationale of ``rationale_min_length`` characters (Enter then approves);
``rank``: ordering the candidates best first with their numbers (docs/candidates.md)."""
DEFAULT_RATIONALES: tuple[str, ...] = (
    "checked on the screenshot",
    "expected step of the task",
    "reversible and low risk",
)
# which field of an action the E key edits
EDITABLE_FIELDS: dict[str, str] = {"type": "text", "key": "keys", "hold_key": "keys"}
_EXECUTING = ("approve", "correct", "edit")
# the rule name daemon.api.routes_dialects holds a model's safety checks under: not a rule of
# the policy file, so the overlay says what it is
SAFETY_RULE = "openai-safety-checks"


def rule_text(review: Review) -> str:
    """What held the review: a policy rule, or the model's own safety checks."""
    if review.rule == SAFETY_RULE:
        return f"{review.rule} ({review.tier}): the model's own safety checks, not a policy rule"
    return f"{review.rule} ({review.tier})"


def _points(a: dict[str, Any]) -> list[ScreenPoint]:
    path = a.get("path")
    if isinstance(path, list) and path:
        return [(int(p[0]), int(p[1])) for p in path]
    x, y = a.get("x"), a.get("y")
    return [] if not isinstance(x, int) or not isinstance(y, int) else [(x, y)]


def default_reviewer() -> str:
    """``user@host``: who decides, as recorded with every decision."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no USER variable (some containers)
        user = "reviewer"
    return f"{user}@{socket.gethostname()}"


class ReviewPresenter(CandidateKeys, Pointing):
    """The queue of pending reviews and the state of the one on screen."""

    def __init__(
        self,
        reviewer: str | None = None,
        *,
        rationales: Sequence[str] = DEFAULT_RATIONALES,
        grace_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.reviewer = reviewer or default_reviewer()
        self.default_rationales = tuple(rationales)
        self.grace_seconds = grace_seconds
        self.clock = clock
        self._queue: dict[str, Review] = {}
        self._graces: dict[str, GraceCountdown] = {}
        self._sending: set[str] = set()
        self._current_id: str | None = None
        self.message = ""  # a hint or error for the reviewer, survives a change of review
        self._reset()

    # -- the queue ----------------------------------------------------------------------

    def add(self, review: Review) -> None:
        """Add a review, or replace the one with its id (a review event is new or updated)."""
        if review.status != "pending":
            self.remove(review.id)
            return
        if review.tier == "grace":
            if review.id in self._graces:
                self._graces[review.id].review = review
            else:
                self._graces[review.id] = GraceCountdown(
                    review, self.reviewer, self.grace_seconds, self.clock()
                )
        else:
            self._queue[review.id] = review
        self._select()

    def update(self, review: Review) -> bool:
        """Replace a known review; an unknown id is ignored (returns False)."""
        if review.id not in self._queue and review.id not in self._graces:
            return False
        self.add(review)
        return True

    def remove(self, review_id: str) -> bool:
        """Forget a review (resolved, expired or decided elsewhere)."""
        found = self._queue.pop(review_id, None) or self._graces.pop(review_id, None)
        self._sending.discard(review_id)
        self._select()
        return found is not None

    def sync(self, reviews: Iterable[Review]) -> None:
        """Make the queue what the daemon says is pending (at start and after a reconnect)."""
        fresh = {r.id: r for r in reviews if r.status == "pending"}
        for gone in [i for i in [*self._queue, *self._graces] if i not in fresh]:
            self.remove(gone)
        for review in fresh.values():
            self.add(review)

    def get(self, review_id: str) -> Review | None:
        return self._queue.get(review_id) or (
            g.review if (g := self._graces.get(review_id)) else None
        )

    def _actionable(self) -> list[Review]:
        return [
            r for r in self._queue.values()
            if r.id not in self._sending and not self.approved_by_me(r)
        ]  # fmt: skip

    def approved_by_me(self, review: Review) -> bool:
        """This reviewer already said yes: approve2 needs someone else for the second one."""
        return any(
            d.reviewer == self.reviewer and d.verdict in _EXECUTING for d in review.decisions
        )

    @property
    def current(self) -> Review | None:
        """The review on screen: the oldest one this reviewer has not answered yet."""
        return self._queue.get(self._current_id) if self._current_id else None

    @property
    def count(self) -> int:
        """How many full-screen reviews wait for this reviewer (the current one included)."""
        return len(self._actionable())

    @property
    def graces(self) -> list[GraceCountdown]:
        """Undo windows running now, the most urgent first."""
        return sorted(self._graces.values(), key=lambda g: g.deadline)

    def grace(self, review_id: str) -> GraceCountdown | None:
        return self._graces.get(review_id)

    def _select(self) -> None:
        actionable = self._actionable()
        new_id = actionable[0].id if actionable else None
        if new_id != self._current_id:
            self._current_id = new_id
            self._reset()
            if new_id is not None:
                self.shown_at = self.clock()

    def _reset(self) -> None:
        self.points: tuple[ScreenPoint, ...] = ()
        self.box: tuple[int, int, int, int] | None = None  # drawn by hand, screen space
        self.hover: tuple[tuple[int, int, int, int], str] | None = None  # box, words
        self.mode: Mode = "review"
        self.edit_value: str | None = None
        self.edited: dict[str, str] | None = None
        self.reason = ""
        self.rationale: str | None = None
        self.shown_at: float | None = None
        self.panel_flipped = False
        self.ranking: tuple[int, ...] = ()  # candidates best first, while or after ranking
        self.picked: int | None = None  # the candidate a number key chose

    # -- sending -------------------------------------------------------------------------

    def confirm(self, review_id: str, updated: Review | None = None) -> None:
        """The daemon took the decision; ``updated`` is the review it answered with."""
        self._sending.discard(review_id)
        if updated is None or updated.status != "pending":
            self.remove(review_id)
        else:  # approve2 after the first approval: kept, but no longer ours to answer
            self.add(updated)

    def send_failed(self, review_id: str, message: str) -> None:
        """The decision did not reach the daemon: show the review again, nothing decided."""
        self._sending.discard(review_id)
        if (g := self._graces.get(review_id)) is not None:
            g.cancelled = False
        self.message = f"not sent: {message}"
        self._select()

    # -- the current review's state ------------------------------------------------------

    @property
    def points_needed(self) -> int:
        return points_needed(self.current.screen_action) if self.current else 0

    @property
    def rationales(self) -> tuple[str, ...]:
        """The rationales a reviewer may pick from (the review's own list wins)."""
        review = self.current
        own = getattr(review, "rationales", None) if review else None
        return tuple(own) if own else self.default_rationales

    @property
    def needs_rationale(self) -> bool:
        """Whether approving the current review needs a rationale: the review says so.

        The daemon sets ``rationales_required`` from its policy (``rationale_required``,
        any tier or none), so the overlay never guesses from the tier.
        """
        review = self.current
        return review is not None and review.rationales_required and bool(self.rationales)

    @property
    def rationale_min_length(self) -> int | None:
        """Approving the current review needs a typed rationale this long (the rule's
        ``rationale_min_length``), or None."""
        review = self.current
        return review.rationale_min_length if review is not None else None

    @property
    def editable_field(self) -> str | None:
        return (
            EDITABLE_FIELDS.get(str(self.current.screen_action.get("action")))
            if self.current
            else None
        )

    def set_rationale(self, choice: str | int | None) -> None:
        """Pick a rationale by text or by its 0-based index in :attr:`rationales`."""
        if choice is None:
            self.rationale = None
            return
        options = self.rationales
        if isinstance(choice, int):
            if not 0 <= choice < len(options):
                raise ValueError(f"no rationale number {choice + 1}; there are {len(options)}")
            choice = options[choice]
        if choice not in options:
            raise ValueError(f"{choice!r} is not one of the allowed rationales")
        self.rationale = choice
        self.message = ""

    def set_edit_value(self, text: str) -> None:
        """What the editor holds now (the widget calls this on every change)."""
        if self.mode == "edit":
            self.edit_value = text

    def set_reason(self, text: str) -> None:
        self.reason = text

    # -- keys: intents -------------------------------------------------------------------

    def on_backspace(self) -> bool:
        """Clear the correction (the editors keep Backspace for themselves); while
        ranking, take back the last candidate ranked."""
        if self.mode == "rank" and self.ranking:
            self.ranking = self.ranking[:-1]
            return True
        if self.mode != "review" or not self.points:
            return False
        self.points, self.box = (), None
        self.message = ""
        return True

    def on_edit(self) -> str | None:
        """Start editing the text or key combo; returns what the editor starts with."""
        field = self.editable_field
        if self.current is None or self.mode != "review" or field is None:
            return None
        self.mode = "edit"
        start = (self.edited or {}).get(field, str(self.current.screen_action.get(field, "")))
        self.edit_value = start
        return start

    def on_reason(self) -> bool:
        """Start typing a reject reason; Enter or Esc then rejects with it."""
        if self.current is None or self.mode != "review":
            return False
        self.mode = "reason"
        return True

    def on_enter(self) -> DecisionRequest | None:
        """Approve as proposed, or send the correction or edit; in the editor, commit it."""
        review = self.current
        if review is None:
            return None
        if self.mode == "rank":
            return self._finish_ranking()
        if self.mode == "edit":
            self._commit_edit()
            return None
        if self.mode == "reason":
            return self._send(review, "reject", rationale=self.reason.strip() or None)
        if self.points and len(self.points) < self.points_needed:
            self.message = "click where the drag should end, or Backspace to clear"
            return None
        verdict = "correct" if self.points else "edit" if self.edited else "approve"
        need = self.rationale_min_length
        if need is not None and verdict != "correct":
            # the daemon would refuse a bare approval (422): say so here, with its sentence,
            # and take the person's words in the text field (Enter again sends them)
            written = self.reason.strip()
            if len(written) < need:
                self.mode = "justify"
                self.message = rationale_refusal(review, len(written))
                return None
            return self._send(review, verdict, rationale=written)
        if self.needs_rationale and self.rationale is None:
            numbered = ", ".join(f"{i}: {r}" for i, r in enumerate(self.rationales, 1))
            self.message = f"rule {review.rule!r} needs a rationale: choose one first ({numbered})"
            return None
        return self._send(review, verdict, rationale=self.rationale)

    def on_escape(self) -> DecisionRequest | None:
        """Reject (with the reason typed, if any); in the editor, discard the edit instead."""
        review = self.current
        if review is None:
            return None
        if self.mode == "rank":  # stops ranking, rejects nothing: Esc again rejects
            self.mode, self.ranking = "review", ()
            self.message = ""
            return None
        if self.mode == "edit":
            self.mode, self.edit_value = "review", None
            self.message = ""
            return None
        if self.mode == "justify":  # leaves the rationale, rejects nothing: Esc again rejects
            self.mode, self.reason = "review", ""
            self.message = ""
            return None
        return self._send(review, "reject", rationale=self.reason.strip() or None)

    def _commit_edit(self) -> None:
        review, field = self.current, self.editable_field
        assert review is not None and field is not None and self.edit_value is not None
        value = self.edit_value
        try:  # the daemon's own model says whether the edit can be typed / pressed
            parse_action({**review.screen_action, field: value})
        except ValidationError as exc:
            self.message = f"cannot use that {field}: {exc.errors()[0]['msg']}"
            return
        original = review.screen_action.get(field)
        self.edited = None if value == original else {field: value}
        self.mode, self.edit_value = "review", None
        self.message = "edited: Enter approves the edit, E edits again" if self.edited else ""

    def _send(self, review: Review, verdict: str, rationale: str | None) -> DecisionRequest:
        request = DecisionRequest(
            verdict=verdict,  # type: ignore[arg-type]
            reviewer=self.reviewer,
            points=self.points if verdict == "correct" else (),
            box=self.box if verdict == "correct" else None,
            edited=self.edited if verdict == "edit" else None,
            rationale=rationale,
            shown_at=self.shown_at,
            candidate=self.picked if verdict == "approve" and not self.ranking else None,
            ranking=self.ranking if verdict == "approve" and self.ranking else None,
        )
        self._sending.add(review.id)
        self.message = ""
        self._select()
        return request

    # -- what to draw --------------------------------------------------------------------

    def shapes(self) -> list[Shape]:
        """Everything to paint on the screenshot, in SCREEN space, bottom layer first."""
        review = self.current
        if review is None:
            return []
        field = self.editable_field
        override = self.edit_value if self.mode == "edit" else (self.edited or {}).get(field or "")
        if self.candidate_count > 1:
            shapes = candidate_shapes(review.screen_action, review.screen_rect,
                                      ranking=self.ranking, picked=self.picked)  # fmt: skip
        else:
            shapes = action_shapes(review.screen_action, review.screen_rect, override)
        if self.hover is not None and self.mode == "review" and self.box is None:
            shapes.insert(0, Outline(self.hover[0], "hover", self.hover[1]))
        if self.box is not None:
            shapes.append(Outline(self.box, "correction", "your box"))
        return shapes + correction_shapes(self.points, self.points_needed)

    def summary(self) -> str:
        """One line saying what the agent proposes, in the agent's pixels (the numbers it
        sent, which is what its log shows), with the screen pixels beside them."""
        review = self.current
        if review is None:
            return ""
        said = describe(review.action)
        if review.action.get("space") == "screen":
            return f"{said} (screen pixels)"
        screen = _points(review.screen_action)
        if not _points(review.action) or not screen:
            return said
        w, h = review.agent_size
        where = f"from {screen[0]} to {screen[-1]}" if len(screen) > 1 else f"{screen[0]}"
        return f"{said} in the agent's {w}x{h} pixels; on the screen {where}"

    def expiry(self) -> str:
        """The current review's countdown, e.g. ``"expires in 1:05"`` (empty if it never
        expires). Expired, the action does not run; the daemon says so, not this clock."""
        review = self.current
        if review is None or review.expires is None:
            return ""
        left = math.ceil(review.expires - self.clock())
        if left <= 0:
            return "expiring now: unanswered, it will not run"
        minutes, seconds = divmod(left, 60)
        return f"expires in {minutes}:{seconds:02d}" if minutes else f"expires in {seconds} s"

    def status(self) -> str:
        """The queue line: position, count, tier and approvals."""
        review = self.current
        if review is None:
            return "no pending reviews"
        line = f"review 1 of {self.count} - {review.tier}"
        if review.needed > 1:
            done = sum(1 for d in review.decisions if d.verdict in _EXECUTING)
            line += f" - {done} of {review.needed} approvals, from different people"
        return line

    def panel_side(self) -> Literal["left", "right"]:
        """Where the why panel goes so that it does not hide the proposed action."""
        review = self.current
        if review is None:
            return "right"
        left, _, width, _ = review.screen_rect
        xs = [anchor_of(s)[0] for s in self.shapes()]
        right_half = bool(xs) and sum(xs) / len(xs) > left + width / 2
        return "left" if right_half != self.panel_flipped else "right"

    def on_flip_panel(self) -> None:
        """Move the panel to the other side (to click a correction under it)."""
        self.panel_flipped = not self.panel_flipped
