"""Coordinate spaces and every conversion between them.

Three spaces (see ARCHITECTURE.md, "Coordinate spaces"):

- ``screen``: physical pixels of the virtual desktop as the screenshot backend reports
  it. A monitor left of (or above) the primary one has a negative origin.
- ``agent``: pixels of the (scaled-down) screenshot the agent was shown. ``(0, 0)`` is
  the top-left pixel of that screenshot, whatever monitor it came from.
- ``widget``: Qt logical pixels of an overlay widget, fractional, with a device pixel
  ratio between them and physical pixels.

Screen and agent coordinates are integer pixel indices (:class:`Point`, :class:`Rect`);
widget coordinates are floats (:class:`WidgetPoint`, :class:`WidgetRect`). All values
say which space they are in, and the conversions refuse a value from the wrong space.

Rounding rule (one rule for every pixel-grid conversion): a pixel is mapped by its
centre, ``v -> floor((v + 0.5) * to_size / from_size)``, in exact integer arithmetic.
Consequences, property-tested in ``tests/capture/test_coords.py``:

- coarse -> fine -> coarse is exact (agent -> screen -> agent when scaling down);
- fine -> coarse -> fine lands within half a coarse pixel (plus half a fine pixel) of
  the start, i.e. within one pixel in the coarse space;
- the agent-space centre of a target (at least three agent pixels wide and high)
  maps back to a screen pixel inside the target.

Rects are pixel sets: fine -> coarse takes the image (every coarse pixel touched),
coarse -> fine the pre-image (every fine pixel that maps into the rect), so coarse ->
fine -> coarse is exact and fine -> coarse -> fine contains the original.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final

from capture.errors import CaptureError

__all__ = [
    "ASPECT_TOLERANCE",
    "DEFAULT_AGENT_SIZES",
    "AgentSize",
    "Monitor",
    "Point",
    "Rect",
    "Scaling",
    "Space",
    "WidgetPlacement",
    "WidgetPoint",
    "WidgetRect",
    "agent_size_for",
    "choose_agent_size",
    "parse_agent_size",
]


class Space(StrEnum):
    """Which coordinate space a value is in."""

    SCREEN = "screen"
    AGENT = "agent"
    WIDGET = "widget"


from capture.agent_size import (
    ASPECT_TOLERANCE,
    DEFAULT_AGENT_SIZES,
    MAX_SIDE,
    AgentSize,
    agent_size_for,
    as_int,
    choose_agent_size,
    parse_agent_size,
)


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CaptureError(f"{name} must be a number, got {value!r}", **{name: value})
    if not math.isfinite(value):
        raise CaptureError(f"{name} must be finite, got {value!r}", **{name: value})
    return float(value)


def _require_space(what: str, got: Space, want: Space) -> None:
    if got is not want:
        raise CaptureError(
            f"{what} must be in {want} space, got a {got}-space value",
            expected=str(want),
            got=str(got),
        )


# --- value types -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    """One pixel of the screen or agent grid: integer ``x, y`` and the space they're in.

    Unpacks like a tuple: ``x, y = point``.
    """

    x: int
    y: int
    space: Space

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", as_int("x", self.x))
        object.__setattr__(self, "y", as_int("y", self.y))
        object.__setattr__(self, "space", Space(self.space))
        if self.space is Space.WIDGET:
            raise CaptureError("widget coordinates are fractional: use WidgetPoint, not Point")

    def __iter__(self) -> Iterator[int]:
        yield self.x
        yield self.y


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle of whole pixels: ``left, top`` (may be negative) and a positive size.

    ``right`` and ``bottom`` are exclusive, like Python ranges.
    """

    left: int
    top: int
    width: int
    height: int
    space: Space = Space.SCREEN

    def __post_init__(self) -> None:
        for name in ("left", "top", "width", "height"):
            object.__setattr__(self, name, as_int(name, getattr(self, name)))
        object.__setattr__(self, "space", Space(self.space))
        if self.space is Space.WIDGET:
            raise CaptureError("widget rectangles are fractional: use WidgetRect, not Rect")
        if self.width <= 0 or self.height <= 0:
            raise CaptureError(
                f"a rectangle needs a positive size, got {self.width}x{self.height}",
                width=self.width,
                height=self.height,
            )

    @property
    def right(self) -> int:
        """One past the last column."""
        return self.left + self.width

    @property
    def bottom(self) -> int:
        """One past the last row."""
        return self.top + self.height

    @property
    def center(self) -> Point:
        """The pixel holding the geometric centre (the right/lower one of two)."""
        return Point(self.left + self.width // 2, self.top + self.height // 2, self.space)

    def contains(self, point: Point) -> bool:
        """Whether ``point`` (same space) is one of this rectangle's pixels."""
        _require_space("the point", point.space, self.space)
        return self.left <= point.x < self.right and self.top <= point.y < self.bottom

    def contains_rect(self, other: Rect) -> bool:
        """Whether every pixel of ``other`` (same space) is inside this rectangle."""
        _require_space("the rectangle", other.space, self.space)
        return (
            self.left <= other.left
            and other.right <= self.right
            and self.top <= other.top
            and other.bottom <= self.bottom
        )


@dataclass(frozen=True, slots=True)
class Monitor:
    """One monitor (or, at index 0, the whole virtual desktop), in screen space.

    ``scale_factor`` is the desktop's DPI over 96 (1.0 when unknown); see
    :mod:`capture.screen` for where it comes from.
    """

    left: int
    top: int
    width: int
    height: int
    index: int = 0
    name: str = ""
    primary: bool = False
    scale_factor: float = 1.0

    def __post_init__(self) -> None:
        Rect(self.left, self.top, self.width, self.height)  # same validation
        for name in ("left", "top", "width", "height", "index"):
            object.__setattr__(self, name, as_int(name, getattr(self, name)))

    @property
    def rect(self) -> Rect:
        """The monitor's area as a screen-space :class:`Rect`."""
        return Rect(self.left, self.top, self.width, self.height, Space.SCREEN)

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height


@dataclass(frozen=True, slots=True)
class WidgetPoint:
    """A point in a widget's Qt logical pixels (fractional, like ``QPointF``)."""

    x: float
    y: float
    space: ClassVar[Space] = Space.WIDGET

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _finite("x", self.x))
        object.__setattr__(self, "y", _finite("y", self.y))

    def __iter__(self) -> Iterator[float]:
        yield self.x
        yield self.y


@dataclass(frozen=True, slots=True)
class WidgetRect:
    """A rectangle in a widget's Qt logical pixels (like ``QRectF``)."""

    x: float
    y: float
    width: float
    height: float
    space: ClassVar[Space] = Space.WIDGET

    def __post_init__(self) -> None:
        for name in ("x", "y", "width", "height"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if self.width <= 0 or self.height <= 0:
            raise CaptureError(f"a rectangle needs a positive size, got {self.width}x{self.height}")


@dataclass(frozen=True, slots=True)
class WidgetPlacement:
    """Where a widget sits: its ``(0, 0)`` at screen pixel ``(left, top)``, and its DPR.

    Qt maps logical to physical pixels by the device pixel ratio: a widget point ``w``
    covers screen point ``left + w * device_pixel_ratio``.
    """

    left: int
    top: int
    device_pixel_ratio: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "left", as_int("left", self.left))
        object.__setattr__(self, "top", as_int("top", self.top))
        dpr = _finite("device_pixel_ratio", self.device_pixel_ratio)
        if dpr <= 0:
            raise CaptureError(f"device_pixel_ratio must be positive, got {dpr}")
        object.__setattr__(self, "device_pixel_ratio", dpr)

    def to_widget(self, point: Point) -> WidgetPoint:
        """The widget position of a screen pixel's centre."""
        _require_space("the point", point.space, Space.SCREEN)
        dpr = self.device_pixel_ratio
        return WidgetPoint((point.x + 0.5 - self.left) / dpr, (point.y + 0.5 - self.top) / dpr)

    def to_screen(self, point: WidgetPoint) -> Point:
        """The screen pixel under a widget position."""
        dpr = self.device_pixel_ratio
        return Point(
            math.floor(self.left + point.x * dpr),
            math.floor(self.top + point.y * dpr),
            Space.SCREEN,
        )

    def rect_to_widget(self, rect: Rect) -> WidgetRect:
        """The exact widget area covered by screen pixels ``rect``."""
        _require_space("the rectangle", rect.space, Space.SCREEN)
        dpr = self.device_pixel_ratio
        return WidgetRect(
            (rect.left - self.left) / dpr,
            (rect.top - self.top) / dpr,
            rect.width / dpr,
            rect.height / dpr,
        )

    def rect_to_screen(self, rect: WidgetRect) -> Rect:
        """Every screen pixel a widget area touches (so screen -> widget -> screen is exact)."""
        dpr = self.device_pixel_ratio
        left = _floor(self.left + rect.x * dpr)
        top = _floor(self.top + rect.y * dpr)
        right = max(_ceil(self.left + (rect.x + rect.width) * dpr), left + 1)
        bottom = max(_ceil(self.top + (rect.y + rect.height) * dpr), top + 1)
        return Rect(left, top, right - left, bottom - top, Space.SCREEN)


# Float edges that should be whole pixels come back as 41.99999999; snap them first.
_EPS: Final = 1e-9


def _floor(v: float) -> int:
    return math.floor(v + _EPS)


def _ceil(v: float) -> int:
    return math.ceil(v - _EPS)


# --- pixel-grid scaling --------------------------------------------------------------


def _map(v: int, n_from: int, n_to: int) -> int:
    """The pixel of an ``n_to`` grid holding the centre of pixel ``v`` of an ``n_from`` grid."""
    return ((2 * v + 1) * n_to) // (2 * n_from)


def _first_at_least(edge: int, n_from: int, n_to: int) -> int:
    """The smallest ``v`` with ``_map(v, n_from, n_to) >= edge``.

    ``_map(v) >= edge`` iff ``(2v + 1) * n_to >= 2 * n_from * edge`` iff ``2v + 1 >= c``
    with ``c = ceil(2 * n_from * edge / n_to)``, so ``v = ceil((c - 1) / 2)``.
    """
    c = -((-2 * n_from * edge) // n_to)
    return -((1 - c) // 2)


def _span(lo: int, hi: int, n_from: int, n_to: int) -> tuple[int, int]:
    """Map the pixel span ``[lo, hi)`` to the other grid (image or pre-image, see module doc)."""
    if n_to <= n_from:  # coarser or same: every target pixel touched
        return _map(lo, n_from, n_to), _map(hi - 1, n_from, n_to) + 1
    # finer: every target pixel whose centre maps back into [lo, hi); never empty,
    # because mapping a finer grid onto a coarser one hits every coarse pixel
    return _first_at_least(lo, n_to, n_from), _first_at_least(hi, n_to, n_from)


@dataclass(frozen=True, slots=True)
class Scaling:
    """Conversions between one screen-space area (usually a monitor) and agent space.

    ``screen`` includes the monitor's origin, so a second monitor at x=1920 maps its
    left edge to agent x=0 and back to screen x=1920.

    >>> s = Scaling(Rect(1920, 0, 1920, 1080), 1366, 768)
    >>> s.to_screen(683, 384)
    Point(x=2880, y=540, space=<Space.SCREEN: 'screen'>)
    """

    screen: Rect
    agent_width: int
    agent_height: int

    def __post_init__(self) -> None:
        _require_space("Scaling.screen", self.screen.space, Space.SCREEN)
        w, h = as_int("agent_width", self.agent_width), as_int("agent_height", self.agent_height)
        if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
            raise CaptureError(f"agent size must be between 1 and {MAX_SIDE} a side, got {w}x{h}")
        object.__setattr__(self, "agent_width", w)
        object.__setattr__(self, "agent_height", h)

    @classmethod
    def fit(
        cls,
        area: Rect | Monitor,
        agent_size: AgentSize | None = None,
        *,
        choices: Sequence[AgentSize] = DEFAULT_AGENT_SIZES,
        native: bool = False,
    ) -> Scaling:
        """Scaling for ``area``: to ``agent_size`` if given, else :func:`choose_agent_size`."""
        rect = area.rect if isinstance(area, Monitor) else area
        if agent_size is None:
            agent_size = choose_agent_size(rect.width, rect.height, choices, native=native)
        return cls(rect, agent_size[0], agent_size[1])

    @property
    def agent_size(self) -> AgentSize:
        return (self.agent_width, self.agent_height)

    @property
    def agent_rect(self) -> Rect:
        """The whole agent image, as an agent-space rect at ``(0, 0)``."""
        return Rect(0, 0, self.agent_width, self.agent_height, Space.AGENT)

    @property
    def factor(self) -> tuple[float, float]:
        """Screen pixels per agent pixel, horizontally and vertically (> 1 = downscaled)."""
        return (self.screen.width / self.agent_width, self.screen.height / self.agent_height)

    def to_agent(self, x: int, y: int) -> Point:
        """The agent pixel showing screen pixel ``(x, y)`` (absolute screen coordinates).

        Pixels outside ``screen`` map outside the agent image; nothing is clamped.
        """
        s = self.screen
        return Point(
            _map(as_int("x", x) - s.left, s.width, self.agent_width),
            _map(as_int("y", y) - s.top, s.height, self.agent_height),
            Space.AGENT,
        )

    def to_screen(self, x: int, y: int) -> Point:
        """The screen pixel at the centre of agent pixel ``(x, y)``."""
        s = self.screen
        return Point(
            s.left + _map(as_int("x", x), self.agent_width, s.width),
            s.top + _map(as_int("y", y), self.agent_height, s.height),
            Space.SCREEN,
        )

    def point_to_agent(self, point: Point) -> Point:
        """Like :meth:`to_agent`, checking that ``point`` is in screen space."""
        _require_space("the point", point.space, Space.SCREEN)
        return self.to_agent(point.x, point.y)

    def point_to_screen(self, point: Point) -> Point:
        """Like :meth:`to_screen`, checking that ``point`` is in agent space."""
        _require_space("the point", point.space, Space.AGENT)
        return self.to_screen(point.x, point.y)

    def rect_to_agent(self, rect: Rect) -> Rect:
        """The agent pixels showing a screen-space rect (see the module doc for rounding)."""
        _require_space("the rectangle", rect.space, Space.SCREEN)
        s = self.screen
        x0, x1 = _span(rect.left - s.left, rect.right - s.left, s.width, self.agent_width)
        y0, y1 = _span(rect.top - s.top, rect.bottom - s.top, s.height, self.agent_height)
        return Rect(x0, y0, x1 - x0, y1 - y0, Space.AGENT)

    def rect_to_screen(self, rect: Rect) -> Rect:
        """The screen pixels an agent-space rect shows (see the module doc for rounding)."""
        _require_space("the rectangle", rect.space, Space.AGENT)
        s = self.screen
        x0, x1 = _span(rect.left, rect.right, self.agent_width, s.width)
        y0, y1 = _span(rect.top, rect.bottom, self.agent_height, s.height)
        return Rect(s.left + x0, s.top + y0, x1 - x0, y1 - y0, Space.SCREEN)

    def agent_to_widget(self, point: Point, placement: WidgetPlacement) -> WidgetPoint:
        """Where an agent pixel appears in a widget placed at ``placement``."""
        return placement.to_widget(self.point_to_screen(point))

    def widget_to_agent(self, point: WidgetPoint, placement: WidgetPlacement) -> Point:
        """The agent pixel under a widget position."""
        return self.point_to_agent(placement.to_screen(point))
