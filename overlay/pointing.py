"""The presenter's pointing on the frozen screenshot (no Qt): clicks, drags, the hover.

Mixed into :class:`~overlay.presenter.ReviewPresenter`, whose state it sets (``points``,
``box``, ``hover``, ``message``): a click is (part of) a correction; a drag is a drag
action's corrected start and end, or for a pointed action the element's box drawn by
hand (docs/a11y.md); the hover is what the daemon says a click there would name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.outcomes import Review
from overlay.shapes import ScreenPoint

if TYPE_CHECKING:
    from overlay.presenter import Mode

__all__ = ["Pointing"]

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), screen space


class Pointing:
    """Where the person points on the review on screen."""

    mode: Mode
    points: tuple[ScreenPoint, ...]
    box: Box | None  # drawn by hand
    hover: tuple[Box, str] | None  # the hovered element's box and words
    message: str
    _current_id: str | None

    @property
    def current(self) -> Review | None:
        raise NotImplementedError

    @property
    def points_needed(self) -> int:
        raise NotImplementedError

    def on_click(self, point: ScreenPoint) -> bool:
        """A click on the screenshot at a SCREEN point sets (part of) the correction."""
        review, need = self.current, self.points_needed
        if review is None or self.mode != "review":
            return False
        if need == 0:
            self.message = "this action has no target to correct: press E to edit it, or Esc"
            return False
        left, top, width, height = review.screen_rect
        x, y = int(point[0]), int(point[1])
        if width and height and not (left <= x < left + width and top <= y < top + height):
            return False
        # a full correction starts over: a third click on a drag is a new start point
        self.box = None
        self.points = (*self.points, (x, y)) if len(self.points) < need else ((x, y),)
        self.message = "now click where the drag should end" if len(self.points) < need else ""
        return True

    def on_drag(self, start: ScreenPoint, end: ScreenPoint) -> bool:
        """A drag on the screenshot: for a drag action its start and end; for a pointed
        action the element's box drawn by hand (its centre is the corrected point)."""
        review, need = self.current, self.points_needed
        if review is None or self.mode != "review" or need == 0:
            return self.on_click(start)
        left, top, width, height = review.screen_rect

        def clip(v: float, lo: int, n: int) -> int:  # onto the reviewed area
            return min(max(int(v), lo), lo + n - 1)

        ax, ay, bx, by = (clip(start[0], left, width), clip(start[1], top, height),
                          clip(end[0], left, width), clip(end[1], top, height))  # fmt: skip
        if need == 2:
            self.points, self.box = ((ax, ay), (bx, by)), None
            self.message = ""
            return True
        box = (min(ax, bx), min(ay, by), max(ax, bx) + 1, max(ay, by) + 1)
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            return self.on_click(start)
        self.box = box
        self.points = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2),
        self.message = "your box is the element: Enter sends the correction with it"
        return True

    def set_hover(self, review_id: str, box: tuple[int, int, int, int] | None, label: str) -> None:
        """What a click at the hovered point would name (the daemon's answer), or nothing."""
        if review_id == self._current_id:
            self.hover = (box, label) if box is not None else None
