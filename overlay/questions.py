"""The state and logic of a question on the overlay, in plain Python (no Qt).

A :class:`QuestionPresenter` holds the pending questions and the state of the one shown
(a spot the person clicked, the text typed), maps keys and clicks to intents (an
:class:`~daemon.question.AnswerRequest` to post, or None when only local state changed),
and says what to draw: each option numbered, a marker for a point, an outline for a box,
in SCREEN space. :func:`first_in_line` puts reviews and questions in one queue, in
arrival order: the overlay shows one item at a time.

Answers: a digit key or a click on an option picks it; a click anywhere else marks that
spot and Enter sends it (Backspace clears it); text typed in the answer field and Enter
sends it (masked for a secret); the takeover key answers by showing (the overlay steps
aside, and the daemon records what the person does).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from daemon.outcomes import Review
from daemon.question import AnswerRequest, Option, Question

__all__ = ["HIT_RADIUS", "OptionMark", "QuestionPresenter", "first_in_line"]

HIT_RADIUS = 24  # screen pixels around an option's point that count as clicking it
ScreenPoint = tuple[int, int]


@dataclass(frozen=True, slots=True)
class OptionMark:
    """One option to draw: its number and text, at a point or around a box (screen space)."""

    number: int
    text: str
    point: ScreenPoint | None = None
    box: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 (exclusive)


def _where(o: Option) -> tuple[ScreenPoint | None, tuple[int, int, int, int] | None]:
    if o.screen_box is not None:
        return None, o.screen_box
    if o.screen_point is not None:
        return o.screen_point, None
    a = o.screen_action or {}
    if isinstance(a.get("x"), int) and isinstance(a.get("y"), int):
        return (a["x"], a["y"]), None  # a candidate action points where it would act
    return None, None


def first_in_line(review: Review | None, question: Question | None) -> str | None:
    """Which item the overlay shows: ``"review"``, ``"question"`` (the one that came first)
    or None."""
    if review is None:
        return "question" if question is not None else None
    if question is None:
        return "review"
    return "question" if question.created < review.created else "review"


class QuestionPresenter:
    """The queue of pending questions and the state of the one on screen."""

    def __init__(self, reviewer: str, *, clock: Callable[[], float] = time.time) -> None:
        self.reviewer = reviewer
        self.clock = clock
        self._queue: dict[str, Question] = {}
        self._sending: set[str] = set()
        self._current_id: str | None = None
        self.message = ""
        self.point: ScreenPoint | None = None
        self.text = ""
        self.shown_at: float | None = None

    # -- the queue ----------------------------------------------------------------------
    def add(self, q: Question) -> None:
        if q.status != "pending":
            self.remove(q.id)
            return
        self._queue[q.id] = q
        self._select()

    def remove(self, question_id: str) -> bool:
        found = self._queue.pop(question_id, None)
        self._sending.discard(question_id)
        self._select()
        return found is not None

    def sync(self, questions: Iterable[Question]) -> None:
        """Make the queue what the daemon says is pending (at start and after a reconnect)."""
        fresh = {q.id: q for q in questions if q.status == "pending"}
        for gone in [i for i in self._queue if i not in fresh]:
            self.remove(gone)
        for q in fresh.values():
            self.add(q)

    def taking_over(self, question_id: str) -> None:
        """The person is showing the answer: nothing of ours may cover the screen."""
        q = self._queue.get(question_id)
        if q is not None and q.takeover_started is None:
            self._queue[question_id] = q.model_copy(update={"takeover_started": self.clock()})
        self._select()

    @property
    def takeover(self) -> bool:
        """A takeover is under way: no question is shown (the person's input takes control)."""
        return any(q.takeover_started is not None for q in self._queue.values())

    @property
    def current(self) -> Question | None:
        return self._queue.get(self._current_id) if self._current_id else None

    @property
    def count(self) -> int:
        return len(self._actionable())

    def get(self, question_id: str) -> Question | None:
        return self._queue.get(question_id)

    def _actionable(self) -> list[Question]:
        if self.takeover:
            return []
        return sorted((q for q in self._queue.values() if q.id not in self._sending),
                      key=lambda q: q.created)  # fmt: skip

    def _select(self) -> None:
        actionable = self._actionable()
        new_id = actionable[0].id if actionable else None
        if new_id != self._current_id:
            self._current_id = new_id
            self._reset()
            if new_id is not None:
                self.shown_at = self.clock()

    def _reset(self) -> None:
        self.point = None
        self.text = ""
        self.shown_at = None

    # -- sending -------------------------------------------------------------------------
    def confirm(self, question_id: str, updated: Question | None = None) -> None:
        self._sending.discard(question_id)
        if updated is not None and updated.status == "pending":
            self._queue[question_id] = updated  # a takeover: kept until it is answered
            self._select()
        else:
            self.remove(question_id)

    def send_failed(self, question_id: str, message: str) -> None:
        """The answer did not reach the daemon: show the question again."""
        self._sending.discard(question_id)
        q = self._queue.get(question_id)
        if q is not None and q.takeover_started is not None:
            self._queue[question_id] = q.model_copy(update={"takeover_started": None})
        self.message = f"not sent: {message}"
        self._select()

    def _send(self, kind: str, **fields: object) -> AnswerRequest | None:
        q = self.current
        if q is None:
            return None
        req = AnswerRequest(kind=kind, reviewer=self.reviewer, shown_at=self.shown_at, **fields)
        self._sending.add(q.id)
        if kind == "takeover":
            self.taking_over(q.id)
        self.message = ""
        self._select()
        return req

    # -- intents -------------------------------------------------------------------------
    def on_digit(self, n: int) -> AnswerRequest | None:
        """Digit ``n`` picks option ``n``."""
        q = self.current
        if q is None:
            return None
        if not 1 <= n <= len(q.options):
            self.message = f"there is no option {n}" if q.options else "this question has no options"
            return None
        return self._send("option", option=n)

    def option_at(self, p: ScreenPoint) -> int | None:
        """The option a click at screen point ``p`` picks: inside its box, or near its point
        (the nearest, the smallest box, when several fit)."""
        best: tuple[float, int] | None = None
        for m in self.marks():
            if m.box is not None:
                x0, y0, x1, y1 = m.box
                if x0 <= p[0] < x1 and y0 <= p[1] < y1:
                    score = float((x1 - x0) * (y1 - y0))
                else:
                    continue
            elif m.point is not None:
                d = math.hypot(p[0] - m.point[0], p[1] - m.point[1])
                if d > HIT_RADIUS:
                    continue
                score = d - 1e9  # a point beats any box around it
            else:
                continue
            if best is None or score < best[0]:
                best = (score, m.number)
        return None if best is None else best[1]

    def on_click(self, p: ScreenPoint) -> AnswerRequest | None:
        """A click on an option picks it; elsewhere on the frame it marks a spot."""
        q = self.current
        if q is None:
            return None
        left, top, width, height = q.screen_rect
        if width and height and not (left <= p[0] < left + width and top <= p[1] < top + height):
            return None
        number = self.option_at(p)
        if number is not None:
            return self._send("option", option=number)
        self.point = (int(p[0]), int(p[1]))
        self.message = "Enter sends this spot as the answer; Backspace clears it"
        return None

    def on_backspace(self) -> bool:
        if self.point is None:
            return False
        self.point = None
        self.message = ""
        return True

    def set_text(self, text: str) -> None:
        self.text = text

    def on_enter(self) -> AnswerRequest | None:
        """Send the typed answer (masked for a secret), else the marked spot."""
        q = self.current
        if q is None:
            return None
        if self.text.strip():
            return self._send("secret" if q.secret else "text", text=self.text)
        if self.point is not None:
            return self._send("point", point=self.point)
        self.message = "type an answer, pick an option, or click a spot first"
        return None

    def on_takeover(self) -> AnswerRequest | None:
        """Answer by showing: the overlay goes, the daemon records what the person does."""
        return self._send("takeover")

    # -- what to draw --------------------------------------------------------------------
    def marks(self) -> list[OptionMark]:
        q = self.current
        if q is None:
            return []
        out = []
        for o in q.options:
            point, box = _where(o)
            out.append(OptionMark(o.number, o.text, point, box))
        return out

    def status(self) -> str:
        q = self.current
        if q is None:
            return "no pending questions"
        return f"question 1 of {self.count}" + (" - secret answer (masked)" if q.secret else "")

    def expiry(self) -> str:
        q = self.current
        if q is None:
            return ""
        left = math.ceil(q.expires - self.clock())
        if left <= 0:
            return "expiring now: the agent gets no answer"
        minutes, seconds = divmod(left, 60)
        return f"expires in {minutes}:{seconds:02d}" if minutes else f"expires in {seconds} s"
