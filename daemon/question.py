"""A question the agent asks the person, with context and options, and the person's answer.

The wire models of ``/v1/questions`` (issue 10): what an agent sends
(:class:`QuestionRequest`), what the daemon keeps and the overlay shows (:class:`Question`),
what the overlay posts (:class:`AnswerRequest`) and what the agent gets back
(:class:`QuestionAnswer`). Points and boxes are in the agent's space on the way in and
out; each option also carries its screen-space twin for the overlay to draw 1:1.

A secret answer (``secret: true``: a one-time code, a password) is never part of a
:class:`Question` as stored or published: its answer says only ``secret`` and the
length; the text itself reaches the agent once, in the first reply after the answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from daemon.actions import Epoch, Int, Latency, Num, Point, SpaceName, parse_action
from daemon.outcomes import FeedbackElement, Image
from daemon.validation import describe_validation_error

__all__ = [
    "DEFAULT_TIMEOUT", "MAX_OPTIONS", "MAX_TIMEOUT", "AnswerKind", "AnswerRequest", "Option",
    "OptionRequest", "Question", "QuestionAnswer", "QuestionRequest", "QuestionStatus",
]  # fmt: skip

MAX_OPTIONS = 9  # one digit key each
DEFAULT_TIMEOUT = 300.0
MAX_TIMEOUT = 86_400.0
MAX_ANSWER = 10_000
Box = tuple[Int, Int, Int, Int]  # x0, y0, x1, y1 (x1, y1 exclusive)
QuestionStatus = Literal["pending", "answered", "expired", "withdrawn"]
"""``expired``: nobody answered within the question's timeout; ``withdrawn``: the agent
that asked gave up waiting (``POST /v1/questions/{id}/withdraw``; a client's cancelled
``ask``), and the question left the person's screen."""
AnswerKind = Literal["option", "text", "secret", "point", "takeover"]
"""``option``: one of the options (a digit key or a click on it); ``text``: typed;
``secret``: typed into a masked field; ``point``: a spot on the screen no option named;
``takeover``: the person showed it (the answer is what they did, as actions)."""


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True)


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _check_box(box: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
    if box is not None:
        x0, y0, x1, y1 = box
        if min(box) < 0 or x1 <= x0 or y1 <= y0:
            raise ValueError("box is [x0, y0, x1, y1] with x0 < x1 and y0 < y1, not negative")
    return box


class OptionRequest(_Request):
    """One option as the agent sends it: text, maybe a point or a box on the screen (in the
    question's ``space``), maybe a candidate action (canonical, as ``POST /v1/actions``)."""

    text: str = Field(min_length=1, max_length=500)
    point: Point | None = Field(None, description="[x, y] the option points at")
    box: Box | None = Field(None, description="[x0, y0, x1, y1] the option outlines (x1, y1 exclusive)")
    action: dict[str, Any] | None = Field(None, description="a candidate action for this option")

    _box = field_validator("box")(_check_box)

    @field_validator("action")
    @classmethod
    def _action(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            try:  # the same model as POST /v1/actions, and the same sentence if it is wrong
                parse_action(v)
            except ValidationError as exc:
                raise ValueError(describe_validation_error(exc)[0]) from None
        return v

    @model_validator(mode="after")
    def _one_place(self) -> OptionRequest:
        if self.point is not None and self.box is not None:
            raise ValueError("an option points at a point or a box, not both")
        return self


class QuestionRequest(_Request):
    """What an agent asks (``POST /v1/questions``)."""

    question: str = Field(min_length=1, max_length=2_000)
    goal: str | None = Field(None, max_length=2_000, description="the task the agent is on")
    steps: tuple[str, ...] = Field((), max_length=50, description="what it did so far")
    stuck: str | None = Field(None, max_length=2_000, description="where it is stuck, and why")
    options: tuple[OptionRequest, ...] = Field(
        (), max_length=MAX_OPTIONS, description=f"at most {MAX_OPTIONS}, numbered 1 to 9 on the screen"
    )
    secret: bool = Field(False, description="the answer is a secret (a one-time code, a password): "
                         "typed masked, returned once, never stored")  # fmt: skip
    timeout: Num = Field(DEFAULT_TIMEOUT, gt=0, le=MAX_TIMEOUT, description="seconds until it expires")
    space: SpaceName = Field("agent", description="the space of the options' points and boxes")

    @field_validator("steps")
    @classmethod
    def _short_steps(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(len(step) > 500 for step in v):
            raise ValueError("each step is at most 500 characters")
        return v


class Option(_Wire):
    """An option as kept and shown: numbered from 1, in agent and screen space."""

    number: int
    text: str
    point: tuple[int, int] | None = None  # agent space (as sent)
    box: tuple[int, int, int, int] | None = None
    action: dict[str, Any] | None = None
    screen_point: tuple[int, int] | None = None  # screen space: what the overlay draws
    screen_box: tuple[int, int, int, int] | None = None
    screen_action: dict[str, Any] | None = None


class QuestionAnswer(_Wire):
    """The person's answer, in the agent's space. ``text`` of a secret answer is set only
    in the one reply that hands it over; ``image`` (the frame annotated at the agent's
    size) only in replies, never stored."""

    kind: AnswerKind
    summary: str  # one sentence for the agent
    by: str
    at: float
    option: int | None = None
    option_text: str | None = None
    action: dict[str, Any] | None = None  # the chosen option's candidate action, if any
    text: str | None = None
    secret_length: int | None = None
    point: tuple[int, int] | None = None  # agent space
    element: FeedbackElement | None = None
    actions: tuple[dict[str, Any], ...] = ()  # a takeover's actions, agent space
    latency_ms: Latency = None  # shown -> answered
    image: Image | None = None


class Question(_Wire):
    """A question as the daemon keeps it; the frame frozen when it was asked is at
    ``GET /v1/questions/{id}/screenshot`` (PNG, screen pixels of ``screen_rect``)."""

    id: str
    created: float
    expires: float
    question: str
    status: QuestionStatus = "pending"
    goal: str | None = None
    steps: tuple[str, ...] = ()
    stuck: str | None = None
    options: tuple[Option, ...] = ()
    secret: bool = False
    screen_rect: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, width, height
    agent_size: tuple[int, int] = (0, 0)
    # the person pressed the takeover key: the answer comes when control returns to the agent
    takeover_started: float | None = None
    answered: float | None = None
    answer: QuestionAnswer | None = None
    detail: str = ""  # what the status means, in a sentence


class AnswerRequest(_Request):
    """What the overlay (or any client holding the daemon's token) posts to answer."""

    kind: AnswerKind
    reviewer: str = Field(min_length=1, max_length=200)
    option: Int | None = Field(None, ge=1, le=MAX_OPTIONS)
    text: str | None = Field(None, max_length=MAX_ANSWER, repr=False)
    point: Point | None = Field(None, description="screen-space point of a 'point' answer")
    shown_at: Epoch | None = Field(None, description="when the question was shown (epoch s)")

    @model_validator(mode="after")
    def _fits(self) -> AnswerRequest:
        need = {"option": "option", "text": "text", "secret": "text", "point": "point"}.get(self.kind)
        if need is not None and getattr(self, need) is None:
            raise ValueError(f"a {self.kind!r} answer needs {need!r}")
        if self.kind in ("text", "secret") and not (self.text or "").strip():
            raise ValueError(f"a {self.kind!r} answer needs some text")
        return self
