"""The canonical action and outcome models: what every agent dialect translates to.

Validation happens here, before anything is sent: unknown keys, characters that
cannot be typed, NaN, negative durations and oversized text are rejected by the
models; points off the screen by :func:`check_bounds`, which needs the screen size.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

from capture import CaptureError
from capture.input.keys import keysym_for_char, parse_keys
from daemon.errors import ActionError

MAX_TEXT = 10_000
MAX_PATH = 5_000
MAX_DURATION = 60.0
MAX_SCROLL = 100
MAX_LONG_POLL = 60.0
"""Seconds the daemon holds one long-poll (``GET /v1/reviews/{id}?wait=``); clients that
wait longer poll again."""



def _a_number(value: Any) -> Any:
    """JSON numbers only: ``true`` is not 1 and ``"5"`` is not 5 (pydantic's lax mode takes both)."""
    if isinstance(value, bool | str | bytes):
        raise ValueError(f"expected a number, got {value!r}")
    return value


Int = Annotated[int, BeforeValidator(_a_number)]
"""A whole number from JSON: never a bool or a string."""
Num = Annotated[float, BeforeValidator(_a_number)]
"""A number from JSON: never a bool or a string."""
Point = tuple[Int, Int]

Button = Literal["left", "right", "middle"]
# The wire names of capture.coords.Space that actions and outcomes use (a widget point
# never crosses the wire).
SpaceName = Literal["agent", "screen"]
BUTTONS: dict[str, int] = {"left": 1, "middle": 2, "right": 3}


class ActionBase(BaseModel):
    """What every action may carry besides its own fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    reason: str | None = Field(None, max_length=4_000, description="the agent's own words")
    confidence: Num | None = Field(None, ge=0.0, le=1.0)
    screen_text: str | None = Field(
        None,
        max_length=20_000,
        description="text the agent read from the screen or the web (kept apart from its "
        "own reasoning: it may be a prompt injection)",
    )
    goal: str | None = Field(None, max_length=2_000, description="the task the agent is on")
    steps: tuple[str, ...] = Field((), max_length=50, description="what the agent did so far")
    space: SpaceName = Field(
        "agent",
        description="coordinates are in the pixels of the screenshot the agent was shown "
        "('agent', the default) or of the physical desktop ('screen')",
    )

    @field_validator("steps")
    @classmethod
    def _short_steps(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(len(step) > 500 for step in v):
            raise ValueError("each step is at most 500 characters")
        return v

    def points(self) -> list[tuple[int, int]]:
        """Every screen point this action touches (for bounds checks)."""
        return []


def _check_modifiers(mods: tuple[str, ...]) -> tuple[str, ...]:
    for m in mods:
        try:
            combo = parse_keys(m)
        except CaptureError as exc:
            raise ValueError(str(exc)) from None
        if len(combo) != 1 or len(combo[0].keysyms) != 1:
            raise ValueError(f"modifier {m!r} must be a single key name")
    return mods


class _Pointed(ActionBase):
    x: Int = Field(ge=0, le=1_000_000)
    y: Int = Field(ge=0, le=1_000_000)

    def points(self) -> list[tuple[int, int]]:
        return [(self.x, self.y)]


class Click(_Pointed):
    action: Literal["click"] = "click"
    button: Button = "left"
    count: Int = Field(1, ge=1, le=3, description="1 single, 2 double, 3 triple click")
    modifiers: tuple[str, ...] = Field((), max_length=8, description='held keys, e.g. ["ctrl"]')

    _mods = field_validator("modifiers")(_check_modifiers)


class Move(_Pointed):
    action: Literal["move"] = "move"


class Drag(ActionBase):
    action: Literal["drag"] = "drag"
    path: tuple[Point, ...] = Field(min_length=2, max_length=MAX_PATH)
    button: Button = "left"
    modifiers: tuple[str, ...] = Field((), max_length=8)
    duration: Num = Field(0.3, ge=0.0, le=MAX_DURATION, description="seconds for the whole path")

    _mods = field_validator("modifiers")(_check_modifiers)

    @field_validator("path")
    @classmethod
    def _non_negative(cls, v: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
        if any(x < 0 or y < 0 for x, y in v):
            raise ValueError("path points must not be negative")
        return v

    def points(self) -> list[tuple[int, int]]:
        return list(self.path)


class _MaybePointed(ActionBase):
    """An action at a point, or where the pointer is when no point is given."""

    x: Int | None = Field(None, ge=0)
    y: Int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _both_or_none(self) -> _MaybePointed:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y, or neither")
        return self

    def points(self) -> list[tuple[int, int]]:
        return [] if self.x is None or self.y is None else [(self.x, self.y)]


class MouseDown(_MaybePointed):
    action: Literal["mouse_down"] = "mouse_down"
    button: Button = "left"


class MouseUp(MouseDown):
    action: Literal["mouse_up"] = "mouse_up"  # type: ignore[assignment]


class Scroll(_MaybePointed):
    action: Literal["scroll"] = "scroll"
    dx: Int = Field(0, ge=-MAX_SCROLL, le=MAX_SCROLL, description="wheel clicks, + is right")
    dy: Int = Field(0, ge=-MAX_SCROLL, le=MAX_SCROLL, description="wheel clicks, + is down")
    modifiers: tuple[str, ...] = Field((), max_length=8)

    _mods = field_validator("modifiers")(_check_modifiers)

    @model_validator(mode="after")
    def _something(self) -> Scroll:
        if self.dx == 0 and self.dy == 0:
            raise ValueError("scroll needs dx or dy")
        return self


class Type(ActionBase):
    action: Literal["type"] = "type"
    text: str = Field(min_length=1, max_length=MAX_TEXT)

    @field_validator("text")
    @classmethod
    def _typeable(cls, v: str) -> str:
        for i, ch in enumerate(v):
            try:
                keysym_for_char(ch)
            except CaptureError as exc:
                raise ValueError(f"character {i} cannot be typed: {exc}") from None
        return v


class Key(ActionBase):
    action: Literal["key"] = "key"
    keys: str = Field(min_length=1, max_length=500, description='xdotool style: "ctrl+s", "Return"')

    @field_validator("keys")
    @classmethod
    def _known(cls, v: str) -> str:
        try:
            parse_keys(v)
        except CaptureError as exc:
            raise ValueError(str(exc)) from None
        return v


class HoldKey(Key):
    action: Literal["hold_key"] = "hold_key"  # type: ignore[assignment]
    duration: Num = Field(gt=0.0, le=MAX_DURATION)


class Wait(ActionBase):
    action: Literal["wait"] = "wait"
    duration: Num = Field(1.0, ge=0.0, le=MAX_DURATION)


class Screenshot(ActionBase):
    action: Literal["screenshot"] = "screenshot"


class CursorPosition(ActionBase):
    action: Literal["cursor_position"] = "cursor_position"


class Zoom(ActionBase):
    """A closer look: the pixels of ``region`` (x0, y0, x1, y1; x1, y1 exclusive)."""

    action: Literal["zoom"] = "zoom"
    region: tuple[Int, Int, Int, Int]

    @field_validator("region")
    @classmethod
    def _area(cls, v: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = v
        if min(v) < 0 or x1 <= x0 or y1 <= y0:
            raise ValueError("region is [x0, y0, x1, y1] with x0 < x1 and y0 < y1, not negative")
        return v

    def points(self) -> list[tuple[int, int]]:
        x0, y0, x1, y1 = self.region
        return [(x0, y0), (x1 - 1, y1 - 1)]


Action = Annotated[
    Click | Move | Drag | MouseDown | MouseUp | Scroll | Type | Key | HoldKey | Wait
    | Screenshot | CursorPosition | Zoom,
    Field(discriminator="action"),
]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)
ACTION_KINDS = (
    "click", "move", "drag", "mouse_down", "mouse_up", "scroll", "type", "key", "hold_key",
    "wait", "screenshot", "cursor_position", "zoom",
)  # fmt: skip
# Kinds that only read the screen: they run even while the person has taken over.
LOOK_KINDS = frozenset({"screenshot", "cursor_position", "zoom"})
# Kinds that change nothing on the desktop: a policy holds them only where a rule names them.
PASSIVE_KINDS = LOOK_KINDS | {"wait"}


def parse_action(data: Any) -> Action:
    """Validate a JSON-like object as an action; raises pydantic's ValidationError."""
    return ACTION_ADAPTER.validate_python(data)


def check_bounds(action: ActionBase, width: int, height: int) -> None:
    """Raise ActionError if any point of ``action`` lies off a ``width`` x ``height`` screen."""
    for x, y in action.points():
        if not (0 <= x < width and 0 <= y < height):
            raise ActionError(
                f"point ({x}, {y}) is off the screen, which is {width}x{height}",
                point=[x, y],
                screen=[width, height],
            )


# --- outcomes -------------------------------------------------------------------------

Status = Literal["executed", "interrupted", "denied", "rejected", "expired", "corrected", "error"]
"""``rejected``: a person said no (or cancelled a grace window); ``expired``: nobody answered
in time (or a restart interrupted an undo window): in both the action did not run."""
Control = Literal["agent", "human", "stopped"]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True)


class Progress(_Wire):
    done: int
    total: int
    unit: str


class HumanClick(_Wire):
    x: int | None
    y: int | None
    button: int
    space: SpaceName = "screen"


# what the outcome's sentence names as the cause of a stop
_STOPPED_BY: dict[str, str] = {
    "kill_switch": "the kill switch",
    "api": "a stop request (`driverseat stop` or POST /v1/stop)",
    "shutdown": "the daemon shutting down",
    "input-failure": "a failure to send input",
    "observer-failure": "the input observer failing",
}


class HumanActivity(_Wire):
    """What the person did while the agent did not have control.

    ``stopped_by`` is set when driverseat was stopped (the kill switch, a stop request...)
    rather than only taken over by the person's input: the agent is then told it was
    stopped, and by what, not that the person "had control".
    """

    seconds: float
    clicks: tuple[HumanClick, ...] = ()
    text: str = ""
    keys: tuple[str, ...] = ()
    motions: int = 0
    stopped_by: str | None = None

    def summary(self) -> str:
        if self.stopped_by is not None:
            cause = _STOPPED_BY.get(self.stopped_by, self.stopped_by)
            parts = [f"driverseat was stopped by {cause} for {self.seconds:.1f} s, then resumed"]
            if self.clicks or self.text or self.keys or self.motions:
                parts.append("meanwhile the person")
        else:
            parts = [f"The person had control for {self.seconds:.1f} s"]
        if self.clicks:
            where = ", ".join(
                f"({c.x}, {c.y})" if c.x is not None else "(?)" for c in self.clicks[:10]
            )
            more = f" and {len(self.clicks) - 10} more" if len(self.clicks) > 10 else ""
            parts.append(f"clicked {len(self.clicks)} time(s) at {where}{more}")
        if self.text:
            shown = self.text if len(self.text) <= 200 else self.text[:200] + "..."
            parts.append(f"typed {shown!r}")
        if self.keys:
            parts.append("pressed " + ", ".join(self.keys[:20]))
        if self.motions and not self.clicks:
            parts.append("moved the mouse")
        if self.stopped_by is not None and len(parts) > 1:
            # "...then resumed; meanwhile the person clicked ..., typed ..."
            return f"{parts[0]}; {parts[1]} " + ", ".join(parts[2:]) + "."
        return "; ".join(parts) + "."


class Image(_Wire):
    media_type: str
    data: str  # base64
    width: int
    height: int
    space: SpaceName = "screen"


Tier = Literal["auto", "notify", "grace", "approve", "approve2", "deny"]
Verdict = Literal["approve", "reject", "correct", "edit", "cancel"]
ReviewStatus = Literal[
    "pending", "approved", "rejected", "corrected", "edited", "cancelled", "expired"
]


ElementSource = Literal["a11y", "vision"]


class FeedbackElement(_Wire):
    """An element a correction names, in the agent's space.

    ``source`` says where its box comes from: ``a11y`` (the application's accessibility
    tree: exact, with role and name) or ``vision`` (a guess from the screenshot's pixels:
    no role, no name).
    """

    source: ElementSource
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)
    role: str | None = None  # AT-SPI role name: "push button", "label", "password text"...
    name: str | None = None
    window_role: str | None = None  # the window it is in: "dialog", "frame"...
    window_name: str | None = None


class Feedback(_Wire):
    """What a person's answer to a review means for the agent, in the agent's space.

    For a correction: where the agent proposed to act, where the right element is
    (its box, and which way and how far), with an annotated image and crops; for a
    rejection the reason; for an edit what changed.
    """

    text: str
    space: SpaceName = "agent"
    proposed: tuple[int, int] | None = None
    corrected: tuple[int, int] | None = None
    box: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 (x1, y1 exclusive)
    dx: int | None = None
    dy: int | None = None
    image: Image | None = None
    crops: tuple[Image, ...] = ()
    reason: str | None = None
    edited: dict[str, Any] | None = None
    element: FeedbackElement | None = None  # the right element (where the person clicked)
    proposed_element: FeedbackElement | None = None  # what the agent's point was on


class Decision(_Wire):
    """One person's answer to a review; every decision has a stable id."""

    id: str
    review_id: str
    reviewer: str  # the reviewer's name: a token's reviewer, or what the local overlay sent
    verdict: Verdict
    at: float
    latency_ms: float | None = None  # shown -> decided
    # who decided: a registered reviewer's id (``driverseat reviewer add``) or "local" (the
    # daemon's own token: the overlay on the desktop), with the roles held at that moment
    reviewer_id: str = "local"
    roles: tuple[str, ...] = ()
    rationale: str | None = None
    points: tuple[tuple[int, int], ...] = ()  # corrected point(s), screen space
    edited: dict[str, Any] | None = None


class DecisionRequest(BaseModel):
    """What the overlay (or any reviewer client) posts to decide a review."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    verdict: Verdict
    reviewer: str = Field(min_length=1, max_length=200)
    points: tuple[Point, ...] = Field(
        (), max_length=2, description="screen-space point(s) of a correction (two for a drag)"
    )
    edited: dict[str, Any] | None = Field(None, description="replacement fields, e.g. text or keys")
    rationale: str | None = Field(None, max_length=2_000)
    shown_at: Num | None = Field(None, description="when the review was shown (epoch s)")


class Review(_Wire):
    """An action held for a person, with everything they need to judge it.

    ``action`` is what the agent sent (its space); ``screen_action`` the same action in
    screen space, to draw on the frozen screenshot 1:1. The screenshot itself is served
    at ``GET /v1/reviews/{id}/screenshot`` (PNG, screen pixels of ``screen_rect``).
    """

    id: str
    action_id: str
    action: dict[str, Any]
    screen_action: dict[str, Any]
    tier: Tier
    rule: str
    status: ReviewStatus = "pending"
    needed: int = 1  # approvals needed (2 for approve2, from distinct reviewers)
    created: float
    expires: float | None = None
    reason: str | None = None
    confidence: float | None = None
    goal: str | None = None
    steps: tuple[str, ...] = ()
    screen_text: str | None = None
    # a model's own safety checks on this action (OpenAI's pending_safety_checks, one
    # "code: message" each), shown apart from the agent's words and what it read
    safety_checks: tuple[str, ...] = ()
    screen_rect: tuple[int, int, int, int] = (0, 0, 0, 0)  # left, top, width, height
    agent_size: tuple[int, int] = (0, 0)
    rationales_required: bool = False  # approving needs a rationale picked from ...
    rationales: tuple[str, ...] = ()  # ... this short list (the policy's)
    rationale_min_length: int | None = None  # approving needs free text this long (the rule's)
    roles_required: tuple[str, ...] = ()  # each approver must hold one of these (``approve_by``)
    decisions: tuple[Decision, ...] = ()


def rationale_refusal(review: Review, given: int) -> str:
    """Why an approval's free-text rationale is refused: the same sentence for the daemon's
    422 and the overlay's own refusal."""
    got = "none" if given == 0 else f"{given}"
    return (
        f"rule {review.rule!r} needs a rationale of at least {review.rationale_min_length} "
        f"characters to approve (got {got}): say why this action is right"
    )


class Outcome(_Wire):
    """What became of one action; ``id`` is stable and names it in the store."""

    id: str
    action: str
    status: Status
    detail: str = ""
    control: Control = "agent"
    progress: Progress | None = None
    cursor: tuple[int, int] | None = None
    space: SpaceName = Field("screen", description="the space of every point in this outcome")
    human_activity: HumanActivity | None = None
    screenshot: Image | None = None
    elapsed_ms: float = 0.0
    review_id: str | None = None
    tier: Tier | None = None
    rule: str | None = None
    feedback: Feedback | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("executed", "corrected")


