"""The canonical action and outcome models: what every agent dialect translates to.

Validation happens here, before anything is sent: unknown keys, characters that
cannot be typed, NaN, negative durations and oversized text are rejected by the
models; points off the screen by :func:`check_bounds`, which needs the screen size.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from capture import CaptureError
from capture.input.keys import keysym_for_char, parse_keys
from daemon.errors import ActionError

MAX_TEXT = 10_000
MAX_PATH = 5_000
MAX_DURATION = 60.0
MAX_SCROLL = 100
MAX_ALTERNATIVES = 4
"""Candidate actions one proposal may carry besides its own (``alternatives``)."""
MAX_LONG_POLL = 60.0
"""Seconds the daemon holds one long-poll (``GET /v1/reviews/{id}?wait=``); clients that
wait longer poll again."""



def _a_number(value: Any) -> Any:
    """JSON numbers only: ``true`` is not 1 and ``"5"`` is not 5 (pydantic's lax mode takes both)."""
    if isinstance(value, bool | str | bytes):
        raise ValueError(f"expected a number, got {value!r}")  # noqa: TRY004 - pydantic wants ValueError
    return value


Int = Annotated[int, BeforeValidator(_a_number)]
"""A whole number from JSON: never a bool or a string."""
Num = Annotated[float, BeforeValidator(_a_number)]
"""A number from JSON: never a bool or a string."""
Point = tuple[Int, Int]
EPOCH_MAX = 4_102_444_800.0  # 2100-01-01: a time a client reports is an epoch second before it
Epoch = Annotated[float, BeforeValidator(_a_number), Field(ge=0.0, le=EPOCH_MAX)]
"""A moment a client reports (epoch seconds): 1970 to 2100. Unbounded, a time far in the
past made a latency of infinity, which no JSON can carry."""


def _finite_or_none(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


Latency = Annotated[float | None, AfterValidator(_finite_or_none)]
"""A latency as kept: a row a daemon before :data:`Epoch` wrote as Infinity reads as None."""

Button = Literal["left", "right", "middle", "back", "forward"]
# The wire names of capture.coords.Space that actions and outcomes use (a widget point
# never crosses the wire).
SpaceName = Literal["agent", "screen"]
# X11 numbers 8 and 9 for a mouse's side buttons: browsers read them as Back and Forward
BUTTONS: dict[str, int] = {"left": 1, "middle": 2, "right": 3, "back": 8, "forward": 9}


_ALTERNATIVES_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": MAX_ALTERNATIVES,
    "items": {
        "type": "object",
        "description": "a canonical action (any kind, with its confidence and reason), "
        "without alternatives of its own",
        "required": ["action"],
        "properties": {"action": {"type": "string", "description": "click, type, key, drag..."}},
    },
}


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

    # the schema says "objects" rather than the action union: an action holding actions
    # would make the OpenAPI document recursive, which schema-driven clients and fuzzers
    # expand without end; the model still validates each one as an action
    alternatives: Annotated[tuple[Action, ...], WithJsonSchema(_ALTERNATIVES_SCHEMA)] = Field(
        (),
        max_length=MAX_ALTERNATIVES,
        description="other candidate actions the agent weighed (each with its own confidence "
        "and reason), in the action's space: a person may approve one of them instead, or "
        "rank them (docs/candidates.md)",
    )

    @field_validator("steps")
    @classmethod
    def _short_steps(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(len(step) > 500 for step in v):
            raise ValueError("each step is at most 500 characters")
        return v

    @model_validator(mode="before")
    @classmethod
    def _alternatives_in_its_space(cls, data: Any) -> Any:
        # a candidate given without a space is in its action's: the agent sent both together
        if isinstance(data, dict) and isinstance(alts := data.get("alternatives"), list | tuple):
            space = data.get("space", "agent")
            data = {**data, "alternatives": [
                {"space": space, **a} if isinstance(a, dict) else a for a in alts
            ]}  # fmt: skip
        return data

    @model_validator(mode="after")
    def _flat_candidates(self) -> ActionBase:
        for i, alt in enumerate(self.alternatives, 1):
            if alt.alternatives:
                raise ValueError(f"alternative {i} has alternatives of its own: list every "
                                 "candidate in the action's one list")  # fmt: skip
            if alt.space != self.space:
                raise ValueError(f"alternative {i} is in {alt.space} space, its action in "
                                 f"{self.space}: give them in one space")  # fmt: skip
        return self

    @model_serializer(mode="wrap")
    def _without_no_alternatives(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # an action without candidates reads (and is stored) exactly as before they existed
        data: dict[str, Any] = handler(self)
        if not self.alternatives:
            data.pop("alternatives", None)
        return data

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
# ActionBase names Action (its alternatives) before Action exists: complete it and every
# kind now. pydantic would otherwise complete each kind lazily, at its first model_dump:
# a whole schema build of the action union (about 30 ms) inside that kind's first request
for _kind in (ActionBase, _Pointed, _MaybePointed, *get_args(get_args(Action)[0])):
    _kind.model_rebuild()
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
